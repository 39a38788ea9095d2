"""Measuring this machine: `python -m wan bench` (where a render's time and memory go, with
recommended presets), the GPU check (`python -m wan bench --gpu-check`, benchmarks/gpu_check.sh)
and the measuring pieces the scripts in benchmarks/ call.

It sits above render (it runs the same stages a render runs, with the same instruments:
wan.render.stages) and below the command line; nothing here is imported by the server.

- record: the machine, library versions, the command line; appending a section to RESULTS.md
- timing: timing calls (CUDA synchronised), the measured matmul peak
- build: pipelines with random weights at the real sizes (no download), or the tiny models
- profile: one clip through every stage, per-step times, extrapolation, MFU
- recommend: memory and speed presets from what was measured
- report: the table, the JSON and the chart of a profile
- gpu: forward per attention kernel, stock diffusers against the speed presets, memory presets
- checks, gpu_check: the GPU check's registry of checks and its budgeted runner
"""
