"""Life-cycle tax management on the household optimizer (see lifecycle/README.md)."""
