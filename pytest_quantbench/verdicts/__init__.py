"""Stage 7: verdicts. Gates that judge a measurement, and the diagnosis of a failing one."""
