"""Stage 9: reports. Terminal summary, Markdown card, plot, run-to-run compare, exports, and their commands."""
