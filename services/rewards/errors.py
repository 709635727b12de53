"""The rewards service's typed errors."""

from services.shared.errors import AlreadyExists, NotFound, ServiceError


class RewardsError(ServiceError):
    pass


class RewardNotFound(NotFound, RewardsError):
    reason = "REWARD_NOT_FOUND"

    def __init__(self, reward_id: str) -> None:
        super().__init__(f"reward {reward_id!r} does not exist", field="reward_id")


class RewardExists(AlreadyExists, RewardsError):
    reason = "REWARD_EXISTS"

    def __init__(self, reward_id: str) -> None:
        super().__init__(f"reward {reward_id!r} already exists", field="reward.reward_id")
