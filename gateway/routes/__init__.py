"""The API's resources, one module per group; every path starts with /v1/programs/{program_id}."""
