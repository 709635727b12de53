from services.ledger.app import SPEC, LedgerConfig
from services.shared.server import main

main(SPEC, LedgerConfig)
