"""Kernels for bulk point accrual, tier evaluation and FIFO lot allocation (placeholder facade)."""

__all__: list[str] = []
