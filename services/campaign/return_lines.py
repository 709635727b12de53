"""Returns by line: the points a return's lines take back, from the points the purchase's lines
earned (line_points.py, stored as purchase_lines): pure, no I/O.

- Each returned line is matched to the purchase's lines of its SKU; several lines of one SKU are
  consumed in the purchase's order, the next one taking what the one before has no more of.
- A purchase line's points go back with its quantity: returning r of its q units (0, not given,
  counts as 1) in total, over however many returns, takes back points * r // q of it in total,
  so a line returned in parts takes back exactly its points once all its units are back.
- A line is refused, naming its field, for a SKU the purchase did not hold (`sku`), for more
  units than were bought and not yet returned (`quantity`), or for more than the amount left of
  the lines it returns (`amount`). A refused return changes nothing.
- The refunded amount of the lines goes to the consumed lines in order, each up to its amount.
"""

from collections.abc import Callable
from dataclasses import dataclass, replace

from services.campaign.repository_purchases import StoredLines
from services.shared.errors import InvalidArgument


@dataclass(frozen=True)
class ReturnedLine:
    sku: str
    amount_minor: int
    # 0 (not given) counts as 1.
    quantity: int


def request_field(index: int, name: str) -> str:
    """RecordReturn's name of a returned line's field."""
    return f"lines.lines[{index}].{name}"


def take_back(
    stored: StoredLines,
    returned: tuple[ReturnedLine, ...],
    field: Callable[[int, str], str] = request_field,
) -> tuple[int, StoredLines]:
    """The points the returned lines take back, and the purchase's lines after the return."""
    quantities = [quantity or 1 for quantity in stored.quantities]
    returned_quantities = list(stored.returned_quantities)
    returned_amounts = list(stored.returned_amounts_minor)
    returned_points = list(stored.returned_points)
    points = 0
    for index, line in enumerate(returned):
        lines = [j for j, sku in enumerate(stored.skus) if sku == line.sku]
        if not lines:
            raise InvalidArgument(
                field(index, "sku"), f"the purchase holds no line of SKU {line.sku!r}"
            )
        wanted = line.quantity or 1
        left = sum(quantities[j] - returned_quantities[j] for j in lines)
        if wanted > left:
            raise InvalidArgument(
                field(index, "quantity"),
                f"returns {wanted} of SKU {line.sku!r}, of which {left} are bought and not "
                "returned yet",
            )
        consumed: list[tuple[int, int]] = []
        for j in lines:
            units = min(quantities[j] - returned_quantities[j], wanted)
            if units > 0:
                consumed.append((j, units))
                wanted -= units
            if not wanted:
                break
        amount_left = sum(stored.amounts_minor[j] - returned_amounts[j] for j, _ in consumed)
        if line.amount_minor > amount_left:
            raise InvalidArgument(
                field(index, "amount"),
                f"refunds {line.amount_minor}, more than the {amount_left} left of the "
                f"returned units of SKU {line.sku!r}",
            )
        amount = line.amount_minor
        for j, units in consumed:
            share = min(amount, stored.amounts_minor[j] - returned_amounts[j])
            returned_amounts[j] += share
            amount -= share
            returned_quantities[j] += units
            target = stored.points[j] * returned_quantities[j] // quantities[j]
            points += target - returned_points[j]
            returned_points[j] = target
    after = replace(
        stored,
        returned_quantities=returned_quantities,
        returned_amounts_minor=returned_amounts,
        returned_points=returned_points,
    )
    return points, after


def returned_categories(
    stored: StoredLines | None, returned: tuple[ReturnedLine, ...]
) -> list[str]:
    """The categories a return's PurchaseRecorded names: those of the purchase's lines of the
    returned SKUs, or, for a return of an amount (which names no lines), of all its lines, as
    the return is of the purchase. None for a purchase stored without line detail (or before
    campaign migration 028): which categories it held is not known."""
    if stored is None:
        return []
    skus = {line.sku for line in returned}
    return sorted(
        {
            category
            for sku, category in zip(stored.skus, stored.categories, strict=False)
            if category and (not skus or sku in skus)
        }
    )
