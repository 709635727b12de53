from services.rewards.app import SPEC, RewardsConfig
from services.shared.server import main

main(SPEC, RewardsConfig)
