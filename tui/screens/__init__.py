"""Screens of the Textual client: dashboard, job detail, new job, dead letters, launcher, help, confirm."""
