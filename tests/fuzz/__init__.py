"""Fuzzing (issue 18): property tests of the readers and the tokenizer, a run of each atheris target, and the
crashes they found, each kept as a plain regression test."""
