"""The points ledger: accounts, double-entry transfers, lots, holds, tiers, liability, verify."""
