"""Sleeveless: household-level, tax-optimized, lot-level rebalancing."""
