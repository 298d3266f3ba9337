"""The load test (`make load`): a token pool, the locustfile, and the report."""
