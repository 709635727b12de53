from services.campaign.app import SPEC, CampaignConfig
from services.shared.server import main

main(SPEC, CampaignConfig)
