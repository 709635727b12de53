from services.identity.app import SPEC, IdentityConfig
from services.shared.server import main

main(SPEC, IdentityConfig)
