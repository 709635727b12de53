"""The program-wide holdout: configure it, and measure the program against it."""

import grpc

from loyalty.campaign.v1 import campaign_pb2, experiments_pb2
from services.campaign import experiment_definitions as definitions
from services.campaign import experiment_reports as reports
from services.campaign import repository_experiments as store
from services.campaign.instants import bound_micros
from services.campaign.rpc_base import RpcBase, now
from services.shared import validation
from services.shared.errors import FailedPrecondition, InvalidArgument
from services.shared.idempotency import once
from services.shared.timestamps import from_unix_micros, timestamp

PROGRAM_ARM, HOLDOUT_ARM = "program", "holdout"


class HoldoutRpcs(RpcBase):
    async def ConfigureHoldout(
        self, request: campaign_pb2.ConfigureHoldoutRequest, context: grpc.aio.ServicerContext
    ) -> campaign_pb2.ConfigureHoldoutResponse:
        validation.program_id(request.program_id)
        definitions.check_holdout(request.config)
        config = request.config

        async with self.pool.acquire() as connection, connection.transaction():

            async def configure() -> campaign_pb2.ConfigureHoldoutResponse:
                previous = await store.fetch_holdout(connection, request.program_id)
                salt = config.assignment_salt or (
                    previous.salt if previous else definitions.holdout_salt(request.program_id)
                )
                if config.HasField("start_time"):
                    # Nanoseconds round up, as every period's bound (instants.bound_micros).
                    start_at = from_unix_micros(bound_micros(config.start_time))
                elif previous is not None and previous.holdout_bps and previous.salt == salt:
                    start_at = previous.start_at
                else:
                    start_at = now()
                stored = await store.store_holdout(
                    connection,
                    request.program_id,
                    bps=config.holdout_bps,
                    salt=salt,
                    start_at=start_at,
                )
                return campaign_pb2.ConfigureHoldoutResponse(
                    config=experiments_pb2.HoldoutConfig(
                        program_id=request.program_id,
                        holdout_bps=stored.holdout_bps,
                        assignment_salt=stored.salt,
                        start_time=timestamp(stored.start_at),
                        update_time=timestamp(stored.updated_at),
                    )
                )

            return await once(
                connection,
                program_id=request.program_id,
                key=request.idempotency_key,
                method="ConfigureHoldout",
                request=request,
                response_type=campaign_pb2.ConfigureHoldoutResponse,
                work=configure,
            )

    async def GetHoldoutReport(
        self, request: campaign_pb2.GetHoldoutReportRequest, context: grpc.aio.ServicerContext
    ) -> campaign_pb2.GetHoldoutReportResponse:
        validation.program_id(request.program_id)
        confidence_bps = reports.confidence_bps_of(request.confidence_bps)
        holdout = await store.fetch_holdout(self.pool, request.program_id)
        if holdout is None or holdout.holdout_bps == 0:
            raise FailedPrecondition("the program has no holdout configured", field="program_id")
        program = await self.ledger.program(request.program_id)
        at = now()
        start = (
            validation.read_instant(request.start_time, "start_time")
            if request.HasField("start_time")
            else holdout.start_at
        )
        end = (
            validation.read_instant(request.end_time, "end_time")
            if request.HasField("end_time")
            else at
        )
        if end <= start:
            raise InvalidArgument("end_time", "must be after start_time")
        async with self.pool.acquire() as connection, connection.transaction():
            sums = await store.arm_sums(
                connection,
                request.program_id,
                store.Arms(
                    salt="",
                    allocations_bps=(),
                    holdout_salt=holdout.salt,
                    holdout_bps=holdout.holdout_bps,
                    holdout_is_arm=True,
                ),
                start=start,
                end=end,
            )
        empty = store.ArmSums(0, 0, 0, 0, 0.0, 0)
        members, held = sums.get(0, empty), sums.get(1, empty)
        return campaign_pb2.GetHoldoutReportResponse(
            arms=[
                reports.arm_report(PROGRAM_ARM, False, members, program.currency),
                reports.arm_report(HOLDOUT_ARM, True, held, program.currency),
            ],
            uplift=reports.arm_uplift(
                PROGRAM_ARM, members, held, confidence_bps / 10_000, program.currency
            ),
            confidence_bps=confidence_bps,
            computed_at=timestamp(at),
        )
