"""What leaves the firm: custodian order files with lot instructions, and the taxes-saved report.

Pure functions from trades and marts (DataFrames) to file contents (bytes); writing them is the
orchestration layer's job. No Dagster imports.
"""
