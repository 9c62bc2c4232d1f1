"""Job entry points, run by the supervisor as `python -m pdxsrv.jobs <kind> <job dir>`."""
