"""A small claims-triage AI system: the example Monday governs in `make demo`."""
