"""Experiments against control groups: define, assign, end, report."""

import datetime as dt
import uuid

import grpc

from loyalty.campaign.v1 import campaign_pb2, experiments_pb2
from services.campaign import experiment_definitions as definitions
from services.campaign import experiment_reports as reports
from services.campaign import repository_experiments as store
from services.campaign import repository_segments as segment_store
from services.campaign.assignment import arm_index, bucket, held_out
from services.campaign.insight_errors import (
    ExperimentExists,
    ExperimentNotFound,
    RuleInOtherExperiment,
    SegmentNotFound,
)
from services.campaign.insight_metrics import InsightMetrics
from services.campaign.rpc_base import RpcBase, check_member_id, now
from services.campaign.targeting import withheld_rewards
from services.shared import validation
from services.shared.errors import InvalidArgument
from services.shared.idempotency import once
from services.shared.paging import decode_page_token, encode_page_token
from services.shared.timestamps import from_unix_micros, timestamp

EXPERIMENTS_PAGE_SIZE_MAX = 200
CHECKED_REWARDS_MAX = 1_000
STATUS_FILTERS = {
    experiments_pb2.EXPERIMENT_STATUS_UNSPECIFIED: "",
    experiments_pb2.EXPERIMENT_STATUS_DRAFT: "draft",
    experiments_pb2.EXPERIMENT_STATUS_RUNNING: "running",
    experiments_pb2.EXPERIMENT_STATUS_ENDED: "ended",
}


def _answer(stored: store.StoredExperiment, at: dt.datetime) -> experiments_pb2.Experiment:
    experiment = experiments_pb2.Experiment()
    experiment.CopyFrom(stored.experiment)
    experiment.status = definitions.status_at(stored.experiment, stored.ended_at, at)  # type: ignore[assignment]
    experiment.create_time.FromDatetime(stored.created_at)
    if stored.ended_at is not None and (
        not experiment.HasField("end_time")
        or stored.ended_at < experiment.end_time.ToDatetime(dt.UTC)
    ):
        experiment.end_time.FromDatetime(stored.ended_at)
    return experiment


class ExperimentRpcs(RpcBase):
    # Set by the application (app.py); None where a servicer is built without metrics.
    insight_metrics: InsightMetrics | None = None

    async def CreateExperiment(
        self, request: campaign_pb2.CreateExperimentRequest, context: grpc.aio.ServicerContext
    ) -> campaign_pb2.CreateExperimentResponse:
        validation.program_id(request.program_id)
        experiment = experiments_pb2.Experiment()
        experiment.CopyFrom(request.experiment)
        experiment.program_id = request.program_id
        definitions.check_experiment(experiment)
        experiment.ClearField("status")
        experiment.ClearField("create_time")

        async with self.pool.acquire() as connection, connection.transaction():

            async def create() -> campaign_pb2.CreateExperimentResponse:
                # Defaults are chosen inside the idempotent work, so a retry gets the same ones.
                experiment.experiment_id = (
                    experiment.experiment_id or f"exp-{uuid.uuid4().hex[:12]}"
                )
                experiment.assignment_salt = experiment.assignment_salt or definitions.default_salt(
                    experiment.experiment_id
                )
                if not experiment.HasField("start_time"):
                    experiment.start_time.FromDatetime(now())
                await self._check_references(connection, experiment)
                stored = await store.insert_experiment(connection, experiment)
                if stored is None:
                    raise ExperimentExists(experiment.experiment_id)
                return campaign_pb2.CreateExperimentResponse(experiment=_answer(stored, now()))

            return await once(
                connection,
                program_id=request.program_id,
                key=request.idempotency_key,
                method="CreateExperiment",
                request=request,
                response_type=campaign_pb2.CreateExperimentResponse,
                work=create,
            )

    async def _check_references(self, connection, experiment: experiments_pb2.Experiment) -> None:  # type: ignore[no-untyped-def]
        program_id = experiment.program_id
        if experiment.segment_id and not await segment_store.existing_segments(
            connection, program_id, [experiment.segment_id]
        ):
            raise SegmentNotFound(experiment.segment_id, "experiment.segment_id")
        named = {
            rule_id: f"experiment.arms[{index}].rule_ids[{position}]"
            for index, arm in enumerate(experiment.arms)
            for position, rule_id in enumerate(arm.rule_ids)
        }
        if not named:
            return
        rows = await connection.fetch(
            "SELECT DISTINCT rule_id FROM rules WHERE program_id = $1 AND rule_id = ANY($2::text[])",
            program_id,
            list(named),
        )
        found = {row["rule_id"] for row in rows}
        for rule_id, field in named.items():
            if rule_id not in found:
                raise InvalidArgument(field, f"rule {rule_id!r} does not exist")
        for other in await store.experiments_of_rules(connection, program_id, list(named)):
            for arm in other.experiment.arms:
                for rule_id in arm.rule_ids:
                    if rule_id in named:
                        raise RuleInOtherExperiment(
                            rule_id, other.experiment.experiment_id, named[rule_id]
                        )

    async def _experiment(self, program_id: str, experiment_id: str) -> store.StoredExperiment:
        validation.program_id(program_id)
        validation.code(experiment_id, "experiment_id")
        stored = await store.fetch_experiment(self.pool, program_id, experiment_id)
        if stored is None:
            raise ExperimentNotFound(experiment_id)
        return stored

    async def GetExperiment(
        self, request: campaign_pb2.GetExperimentRequest, context: grpc.aio.ServicerContext
    ) -> campaign_pb2.GetExperimentResponse:
        stored = await self._experiment(request.program_id, request.experiment_id)
        return campaign_pb2.GetExperimentResponse(experiment=_answer(stored, now()))

    async def ListExperiments(
        self, request: campaign_pb2.ListExperimentsRequest, context: grpc.aio.ServicerContext
    ) -> campaign_pb2.ListExperimentsResponse:
        validation.program_id(request.program_id)
        if request.status not in STATUS_FILTERS:
            raise InvalidArgument("status", "is not a known experiment status")
        size = validation.page_size(request.page_size, maximum=EXPERIMENTS_PAGE_SIZE_MAX)
        cursor = decode_page_token(
            request.page_token, keys=("experiment_id",), types={"experiment_id": str}
        )
        at = now()
        found = await store.list_experiments(
            self.pool,
            request.program_id,
            status=STATUS_FILTERS[request.status],
            now=at,
            after=cursor["experiment_id"] if cursor else "",
            limit=size + 1,
        )
        page = found[:size]
        token = ""
        if len(found) > size:
            token = encode_page_token({"experiment_id": page[-1].experiment.experiment_id})
        return campaign_pb2.ListExperimentsResponse(
            experiments=[_answer(stored, at) for stored in page], next_page_token=token
        )

    async def EndExperiment(
        self, request: campaign_pb2.EndExperimentRequest, context: grpc.aio.ServicerContext
    ) -> campaign_pb2.EndExperimentResponse:
        validation.program_id(request.program_id)
        validation.code(request.experiment_id, "experiment_id")

        async with self.pool.acquire() as connection, connection.transaction():

            async def end() -> campaign_pb2.EndExperimentResponse:
                at = now()
                await store.end_experiment(
                    connection, request.program_id, request.experiment_id, at
                )
                stored = await store.fetch_experiment(
                    connection, request.program_id, request.experiment_id
                )
                if stored is None:
                    raise ExperimentNotFound(request.experiment_id)
                return campaign_pb2.EndExperimentResponse(experiment=_answer(stored, at))

            return await once(
                connection,
                program_id=request.program_id,
                key=request.idempotency_key,
                method="EndExperiment",
                request=request,
                response_type=campaign_pb2.EndExperimentResponse,
                work=end,
            )

    async def GetExperimentAssignment(
        self,
        request: campaign_pb2.GetExperimentAssignmentRequest,
        context: grpc.aio.ServicerContext,
    ) -> campaign_pb2.GetExperimentAssignmentResponse:
        stored = await self._experiment(request.program_id, request.experiment_id)
        member = check_member_id(request.member_id)
        experiment = stored.experiment
        answer = campaign_pb2.GetExperimentAssignmentResponse()
        holdout = await store.fetch_holdout(self.pool, request.program_id)
        if holdout is not None and held_out(holdout.salt, holdout.holdout_bps, member):
            answer.in_holdout = True
        elif experiment.segment_id and not await segment_store.member_segments(
            self.pool, request.program_id, member, [experiment.segment_id]
        ):
            answer.not_eligible = True
        else:
            allocations = [arm.allocation_bps for arm in experiment.arms]
            index = arm_index(allocations, bucket(experiment.assignment_salt, member))
            answer.arm_code = experiment.arms[index].arm_code
        if self.insight_metrics is not None:
            self.insight_metrics.experiment_assignments.labels(
                request.program_id, experiment.experiment_id, answer.arm_code
            ).inc()
        return answer

    async def CheckRewardTargeting(
        self,
        request: campaign_pb2.CheckRewardTargetingRequest,
        context: grpc.aio.ServicerContext,
    ) -> campaign_pb2.CheckRewardTargetingResponse:
        validation.program_id(request.program_id)
        member = check_member_id(request.member_id)
        if len(request.reward_ids) > CHECKED_REWARDS_MAX:
            raise InvalidArgument("reward_ids", f"at most {CHECKED_REWARDS_MAX} rewards")
        for index, reward_id in enumerate(request.reward_ids):
            validation.text(reward_id, f"reward_ids[{index}]", length_max=64)
        withheld = await withheld_rewards(
            self.pool, request.program_id, member, list(request.reward_ids), now()
        )
        return campaign_pb2.CheckRewardTargetingResponse(
            withheld_reward_ids=[r for r in request.reward_ids if r in withheld]
        )

    async def GetExperimentReport(
        self, request: campaign_pb2.GetExperimentReportRequest, context: grpc.aio.ServicerContext
    ) -> campaign_pb2.GetExperimentReportResponse:
        stored = await self._experiment(request.program_id, request.experiment_id)
        confidence_bps = reports.confidence_bps_of(request.confidence_bps)
        program = await self.ledger.program(request.program_id)
        experiment = stored.experiment
        at = now()
        start_micros, stop_micros = definitions.active_period_micros(experiment, stored.ended_at)
        start = from_unix_micros(start_micros)
        end = min(at, from_unix_micros(stop_micros)) if stop_micros is not None else at
        holdout = await store.fetch_holdout(self.pool, request.program_id)
        async with self.pool.acquire() as connection, connection.transaction():
            sums = await store.arm_sums(
                connection,
                request.program_id,
                store.Arms(
                    salt=experiment.assignment_salt,
                    allocations_bps=tuple(arm.allocation_bps for arm in experiment.arms),
                    holdout_salt=holdout.salt if holdout else "",
                    holdout_bps=holdout.holdout_bps if holdout else 0,
                    segment_id=experiment.segment_id,
                ),
                start=start,
                end=max(end, start),
            )
        empty = store.ArmSums(0, 0, 0, 0, 0.0, 0)
        response = campaign_pb2.GetExperimentReportResponse(
            experiment_id=experiment.experiment_id,
            confidence_bps=confidence_bps,
            computed_at=timestamp(at),
        )
        control_index = next(i for i, arm in enumerate(experiment.arms) if arm.control)
        control = sums.get(control_index, empty)
        for index, arm in enumerate(experiment.arms):
            arm_sums = sums.get(index, empty)
            response.arms.append(
                reports.arm_report(arm.arm_code, arm.control, arm_sums, program.currency)
            )
            if not arm.control:
                response.uplifts.append(
                    reports.arm_uplift(
                        arm.arm_code, arm_sums, control, confidence_bps / 10_000, program.currency
                    )
                )
        return response
