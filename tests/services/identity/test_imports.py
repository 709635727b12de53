"""Bulk enrolment (ImportMembers) row by row, through real gRPC and PostgreSQL: a row answers the
same whether an earlier row of its batch shares an identifier with it or it comes alone."""

from loyalty.identity.v1 import identity_pb2
from tests.services.identity.conftest import KIND, PROGRAM, enrol, identifier

ENROLLED = identity_pb2.IMPORT_ITEM_STATUS_ENROLLED
DUPLICATE = identity_pb2.IMPORT_ITEM_STATUS_DUPLICATE
REJECTED = identity_pb2.IMPORT_ITEM_STATUS_REJECTED
PHONE = "+31612345678"
STOLEN_CARD = "4000001234567899"  # Luhn-valid


async def import_rows(
    stub, batch_id: str, rows: list[tuple[str, str, str, str]]
) -> identity_pb2.ImportMembersResponse:
    """One batch of (idempotency key, e-mail, phone, card number) rows."""
    request = identity_pb2.ImportMembersRequest(
        program_id=PROGRAM,
        batch_id=batch_id,
        idempotency_keys=[key for key, _, _, _ in rows],
        emails=[address for _, address, _, _ in rows],
        phones=[phone for _, _, phone, _ in rows],
        card_numbers=[card for _, _, _, card in rows],
    )
    [answer] = [response async for response in stub.ImportMembers(iter([request]))]
    return answer


async def test_a_row_sharing_an_identifier_with_an_earlier_one_is_checked_as_if_alone(
    stub,
) -> None:
    """Row 2 names Ann by her e-mail and Nick by his phone: it was answered as a duplicate of
    Ann's new member, silently, while the same row alone is refused; so was a row with a stolen
    card beside the shared e-mail. A repeat by key answers the key's member, as alone."""
    nick = (await enrol(stub, identifier(KIND.IDENTIFIER_KIND_PHONE, PHONE))).member.member_id
    thief = (
        await enrol(stub, identifier(KIND.IDENTIFIER_KIND_CARD_NUMBER, STOLEN_CARD))
    ).member.member_id
    await stub.RemoveIdentifier(
        identity_pb2.RemoveIdentifierRequest(
            program_id=PROGRAM,
            idempotency_key="stolen",
            member_id=thief,
            kind=KIND.IDENTIFIER_KIND_CARD_NUMBER,
            value=STOLEN_CARD,
            reason=identity_pb2.IDENTIFIER_REMOVAL_REASON_STOLEN,
        )
    )
    rows = [
        ("ann", "ann@example.com", "", ""),
        ("ann-and-nick", "ann@example.com", PHONE, ""),
        ("ann-and-stolen-card", "ann@example.com", "", STOLEN_CARD),
        ("ann-new-phone", "ann@example.com", "+31687654321", ""),
        ("ann", "other@example.com", PHONE, ""),
    ]
    together = await import_rows(stub, "together", rows)
    ann = together.member_ids[0]
    assert list(together.statuses) == [ENROLLED, REJECTED, REJECTED, DUPLICATE, DUPLICATE]
    assert list(together.member_ids) == [ann, "", "", ann, ann]
    assert together.messages[1] == "identifiers: belong to different members already"
    assert together.messages[2] == "identifiers: a card reported lost or stolen is blocked"
    assert (together.enrolled_count, together.duplicate_count, together.rejected_count) == (1, 2, 2)

    for index, row in enumerate(rows[1:], start=1):
        alone = await import_rows(stub, f"alone-{index}", [row])
        assert alone.statuses[0] == together.statuses[index], row
        assert alone.member_ids[0] == together.member_ids[index], row
        assert alone.messages[0] == together.messages[index], row
    resolved = await stub.ResolveIdentifier(
        identity_pb2.ResolveIdentifierRequest(
            program_id=PROGRAM, kind=KIND.IDENTIFIER_KIND_PHONE, value=PHONE
        )
    )
    assert resolved.member_id == nick
    member = (
        await stub.GetMember(identity_pb2.GetMemberRequest(program_id=PROGRAM, member_id=ann))
    ).member
    assert [i.value for i in member.identifiers] == ["ann@example.com"]
