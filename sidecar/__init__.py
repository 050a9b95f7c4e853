"""The vip-sidecar process: settings, store, pipeline, jobs, sandbox, CLI."""
