"""The uplift of a treatment arm over control, with a confidence interval: pure arithmetic.

Each arm is summarised by its per-member observations as (count, sum, sum of squares); a rate is
the same with 0/1 observations. The uplift is the difference of the means and its interval is
Welch's: standard error sqrt(s1²/n1 + s0²/n0), degrees of freedom by Welch-Satterthwaite, and
the two-sided Student t quantile for them. The t quantile comes from the normal quantile by the
Cornish-Fisher expansion (Abramowitz and Stegun 26.7.5), accurate to about 1e-4 from 3 degrees
of freedom and converging to the normal approximation as samples grow, so no scipy is needed.
"""

import math
from dataclasses import dataclass
from statistics import NormalDist


@dataclass(frozen=True)
class Sample:
    """Per-member observations of one arm, as sums."""

    count: int
    total: float
    total_squares: float

    @property
    def mean(self) -> float:
        return self.total / self.count if self.count else 0.0

    @property
    def variance(self) -> float:
        """The unbiased sample variance; 0 for fewer than two observations."""
        if self.count < 2:
            return 0.0
        spread = self.total_squares - self.total * self.total / self.count
        return max(spread, 0.0) / (self.count - 1)


@dataclass(frozen=True)
class Uplift:
    difference: float
    lower: float
    upper: float
    # False when an arm has fewer than two members: then lower == upper == difference.
    interval_available: bool
    degrees_of_freedom: float


def normal_quantile(probability: float) -> float:
    return NormalDist().inv_cdf(probability)


def t_quantile(probability: float, degrees_of_freedom: float) -> float:
    """The Student t quantile by the Cornish-Fisher expansion around the normal quantile."""
    if degrees_of_freedom <= 0:
        raise ValueError("degrees of freedom must be positive")
    z = normal_quantile(probability)
    nu = degrees_of_freedom
    g1 = (z**3 + z) / 4
    g2 = (5 * z**5 + 16 * z**3 + 3 * z) / 96
    g3 = (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / 384
    g4 = (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z) / 92160
    return z + g1 / nu + g2 / nu**2 + g3 / nu**3 + g4 / nu**4


def welch_degrees_of_freedom(treatment: Sample, control: Sample) -> float:
    a = treatment.variance / treatment.count
    b = control.variance / control.count
    denominator = a * a / (treatment.count - 1) + b * b / (control.count - 1)
    if denominator == 0:
        return math.inf
    return (a + b) ** 2 / denominator


def uplift(treatment: Sample, control: Sample, *, confidence: float = 0.95) -> Uplift:
    """treatment mean - control mean, with its two-sided `confidence` interval."""
    if not 0 < confidence < 1:
        raise ValueError("confidence must be between 0 and 1")
    difference = treatment.mean - control.mean
    if treatment.count < 2 or control.count < 2:
        return Uplift(difference, difference, difference, False, 0.0)
    error = math.sqrt(treatment.variance / treatment.count + control.variance / control.count)
    freedom = welch_degrees_of_freedom(treatment, control)
    probability = 1 - (1 - confidence) / 2
    quantile = (
        normal_quantile(probability)
        if math.isinf(freedom)
        else t_quantile(probability, max(freedom, 1.0))
    )
    return Uplift(
        difference, difference - quantile * error, difference + quantile * error, True, freedom
    )
