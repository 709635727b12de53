"""Page tokens: what a service issued reads back; anything else is INVALID_ARGUMENT on page_token."""

import pytest

from services.shared.errors import InvalidArgument
from services.shared.paging import decode_page_token, encode_page_token
from tests.support.page_tokens import forged


@pytest.mark.parametrize("number", [0, 2**63 - 1, -(2**63)])
def test_an_issued_token_reads_back_up_to_the_ends_of_64_bits(number: int) -> None:
    token = encode_page_token({"before": number})
    assert decode_page_token(token, keys=("before",), types={"before": int}) == {"before": number}


@pytest.mark.parametrize("number", [2**63, -(2**63) - 1, 2**64, 10**30])
def test_a_number_past_64_bits_is_refused_naming_the_token(number: int) -> None:
    with pytest.raises(InvalidArgument) as error:
        decode_page_token(forged(before=number), keys=("before",), types={"before": int})
    assert error.value.field == "page_token"


def test_text_holding_a_nul_character_is_refused_naming_the_token() -> None:
    # PostgreSQL's text cannot hold it: the query would fail with an error naming no field.
    with pytest.raises(InvalidArgument) as error:
        decode_page_token(forged(after="m1\x00"), keys=("after",), types={"after": str})
    assert error.value.field == "page_token"


def test_text_holding_a_lone_surrogate_is_refused_naming_the_token() -> None:
    # JSON's \\ud800 escape reads as a str that UTF-8, and so the query's encoding, cannot hold.
    with pytest.raises(InvalidArgument) as error:
        decode_page_token(forged(after="m1\ud800"), keys=("after",), types={"after": str})
    assert error.value.field == "page_token"


def test_a_key_without_a_type_is_left_as_it_came() -> None:
    cursor = decode_page_token(forged(after=2**64), keys=("after",))
    assert cursor == {"after": 2**64}
