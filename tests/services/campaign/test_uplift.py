"""services/campaign/uplift.py against values computed by hand (and Student t tables)."""

import math

import pytest

from services.campaign.uplift import (
    Sample,
    normal_quantile,
    rate_uplift,
    t_quantile,
    uplift,
    welch_degrees_of_freedom,
)


def sample(values: list[float]) -> Sample:
    return Sample(len(values), float(sum(values)), float(sum(v * v for v in values)))


@pytest.mark.parametrize(
    ("freedom", "table"),
    # Two-sided 95 % critical values of Student's t from the printed tables.
    [
        (1, 12.706205),
        (2, 4.302653),
        (3, 3.182446),
        (5, 2.570582),
        (10, 2.228139),
        (30, 2.042272),
        (100, 1.983972),
        (1000, 1.962339),
    ],
)
def test_t_quantile_matches_the_tables(freedom: int, table: float) -> None:
    assert t_quantile(0.975, freedom) == pytest.approx(table, abs=1e-6)


@pytest.mark.parametrize(
    ("probability", "freedom", "exact"),
    # Closed forms at 1 and 2 degrees of freedom: tan(pi (p - 1/2)) and
    # (2p - 1) sqrt(2 / (4 p (1 - p))); then 99 % and 99.9 % two-sided from the tables.
    [
        (0.995, 1, math.tan(math.pi * 0.495)),
        (0.9995, 1, math.tan(math.pi * 0.4995)),
        (0.9, 2, 0.8 * math.sqrt(2 / (4 * 0.9 * 0.1))),
        (0.995, 4, 4.604095),
        (0.9995, 10, 4.586894),
        (0.025, 1, -math.tan(math.pi * 0.475)),
    ],
)
def test_t_quantile_at_few_degrees_of_freedom_and_high_confidence(
    probability: float, freedom: float, exact: float
) -> None:
    assert t_quantile(probability, freedom) == pytest.approx(exact, rel=1e-7)


def test_t_quantile_between_whole_degrees_of_freedom_is_between_their_quantiles() -> None:
    # Welch's degrees of freedom are fractional. 2.756285 checked by integrating the density.
    assert t_quantile(0.975, 2) < t_quantile(0.975, 1.5) < t_quantile(0.975, 1)
    assert t_quantile(0.975, 4.07547) == pytest.approx(2.756285, abs=1e-6)


def test_the_normal_quantile_is_the_textbook_one() -> None:
    assert normal_quantile(0.975) == pytest.approx(1.959964, abs=1e-6)
    assert normal_quantile(0.95) == pytest.approx(1.644854, abs=1e-6)


def test_mean_and_variance_of_a_sample() -> None:
    treatment = sample([2, 4, 6, 8])
    assert treatment.mean == 5
    # ((2-5)² + (4-5)² + (6-5)² + (8-5)²) / 3 = 20 / 3
    assert treatment.variance == pytest.approx(20 / 3)


def test_welch_interval_by_hand() -> None:
    treatment, control = sample([2, 4, 6, 8]), sample([1, 2, 3])
    # variances 20/3 and 1: standard error sqrt(20/12 + 1/3) = sqrt(2);
    # degrees of freedom (5/3 + 1/3)² / ((5/3)²/3 + (1/3)²/2) = 4 / (25/27 + 1/18) = 4.0755
    assert welch_degrees_of_freedom(treatment, control) == pytest.approx(4.07547, abs=1e-4)
    result = uplift(treatment, control)
    assert result.difference == 3
    assert result.interval_available
    # t(0.975, 4.0755) lies between the table's 2.776 (4) and 2.571 (5), close to 4's.
    half_width = result.upper - result.difference
    assert half_width == pytest.approx(result.difference - result.lower)
    assert 2.74 * math.sqrt(2) < half_width < 2.78 * math.sqrt(2)


def test_difference_of_two_rates() -> None:
    # 60 of 100 against 50 of 100: variances 0.6·0.4·100/99 and 0.5·0.5·100/99,
    # standard error sqrt(0.24/99 + 0.25/99) = 0.070353; about 198 degrees of freedom.
    result = uplift(Sample(100, 60, 60), Sample(100, 50, 50))
    assert result.difference == pytest.approx(0.1)
    error = math.sqrt(0.24 / 99 + 0.25 / 99)
    assert error == pytest.approx(0.070353, abs=1e-6)
    assert result.upper - result.difference == pytest.approx(1.9720 * error, abs=1e-3 * error)


def test_large_samples_approach_the_normal_interval() -> None:
    # Means 105 and 100, both standard deviation 10, 20000 members each:
    # standard error sqrt(2·100/20000) = 0.1, interval 5 ± 1.96·0.1.
    n = 20_000
    treatment = Sample(n, 105.0 * n, (100.0 + 105.0**2) * n * 1.0)
    control = Sample(n, 100.0 * n, (100.0 + 100.0**2) * n * 1.0)
    # The sums of squares above give variance 100·n/(n-1).
    result = uplift(treatment, control)
    assert result.difference == pytest.approx(5.0)
    assert result.lower == pytest.approx(5 - 1.96 * 0.1, abs=2e-3)
    assert result.upper == pytest.approx(5 + 1.96 * 0.1, abs=2e-3)


def test_a_lower_confidence_gives_a_narrower_interval() -> None:
    treatment, control = sample([2, 4, 6, 8, 10]), sample([1, 2, 3, 4])
    wide, narrow = uplift(treatment, control), uplift(treatment, control, confidence=0.8)
    assert narrow.upper - narrow.lower < wide.upper - wide.lower


def test_no_interval_below_two_members() -> None:
    result = uplift(sample([5]), sample([1, 2, 3]))
    assert not result.interval_available
    assert result.lower == result.upper == result.difference == 3


def test_no_uplift_against_an_empty_arm() -> None:
    for treatment, control in ((sample([5, 7]), sample([])), (sample([]), sample([1, 2]))):
        result = uplift(treatment, control)
        assert not result.interval_available
        assert result.lower == result.upper == result.difference == 0


def test_identical_constant_arms_have_an_empty_interval() -> None:
    result = uplift(sample([4, 4, 4]), sample([4, 4]))
    assert (result.difference, result.lower, result.upper) == (0, 0, 0)


def test_confidence_must_be_a_fraction() -> None:
    with pytest.raises(ValueError):
        uplift(sample([1, 2]), sample([1, 2]), confidence=1.0)


def test_the_interval_covers_a_known_effect_95_times_in_100() -> None:
    # 1000 simulated experiments (skewed spend, unequal variances and arm sizes) with a true
    # uplift of 150: about 950 intervals should cover it.
    import random

    rng = random.Random(7)
    covered = 0
    for _ in range(1_000):
        control = [rng.expovariate(1 / 1_000) for _ in range(150)]
        treatment = [rng.expovariate(1 / 1_150) for _ in range(250)]
        result = uplift(sample(treatment), sample(control))
        covered += result.lower <= 150 <= result.upper
    assert 930 <= covered <= 970


@pytest.mark.parametrize(
    ("hits", "expected"),
    # Newcombe (1998), "Interval estimation for the difference between independent proportions",
    # Statistics in Medicine 17, table II, method 10 (95 %).
    [
        ((56, 70, 48, 80), (0.2, 0.0524, 0.3339)),
        ((9, 10, 3, 10), (0.6, 0.1705, 0.8090)),
        ((5, 56, 0, 29), (0.0893, -0.0381, 0.1926)),
        ((0, 10, 0, 20), (0.0, -0.1611, 0.2775)),
        ((10, 10, 0, 20), (1.0, 0.6791, 1.0)),
    ],
)
def test_rate_uplift_is_newcombe_s_published_interval(
    hits: tuple[int, int, int, int], expected: tuple[float, float, float]
) -> None:
    result = rate_uplift(*hits)
    assert result.interval_available
    assert (result.difference, result.lower, result.upper) == pytest.approx(expected, abs=1e-4)


def test_rate_uplift_without_enough_members() -> None:
    assert rate_uplift(1, 1, 0, 5) == rate_uplift(1, 1, 0, 5, confidence=0.99)
    single = rate_uplift(1, 1, 0, 5)
    assert not single.interval_available and single.lower == single.upper == 1.0
    empty = rate_uplift(3, 4, 0, 0)
    assert not empty.interval_available and empty.difference == empty.lower == 0
