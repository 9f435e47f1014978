"""The job engine: Dramatiq broker set-up, the embedded worker, and the sweeper."""
