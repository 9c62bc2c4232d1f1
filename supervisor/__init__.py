"""A generic job supervisor: runs commands in job directories, streams what they report, stops and re-adopts them (wire format: supervisor.protocol)."""
