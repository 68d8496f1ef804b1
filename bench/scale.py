"""Throughput of tf.distribute strategies, mixed precision and XLA on one small CNN.

Usage::

    python bench/scale.py [--steps 40] [--batch 128]

Each configuration trains the same small CNN (28x28x1 inputs, random data, 10 classes) with
``model.fit`` for a fixed number of steps after a warm-up, in its own process (logical
devices are fixed when TensorFlow starts), and reports samples per second. Printed, each as a
ratio against the default measured in the same run:

* CPU: MirroredStrategy over 1 and over 2 logical CPU devices, mixed precision
  (``mixed_bfloat16``) and XLA (``jit_compile=True``), against the default strategy;
* GPU, when TensorFlow sees one: MirroredStrategy over all GPUs, ``mixed_float16`` and XLA,
  against the default on one GPU.

The global batch is the same in every configuration (a mirrored replica gets its share).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

CPU = [
    ("default", "default strategy (CPU)"),
    ("mirrored1", "MirroredStrategy, 1 logical CPU"),
    ("mirrored2", "MirroredStrategy, 2 logical CPUs"),
    ("mixed", "mixed_bfloat16 (CPU)"),
    ("xla", "XLA jit_compile (CPU)"),
]
GPU = [
    ("gpu_default", "default strategy (1 GPU)"),
    ("gpu_mirrored", "MirroredStrategy, all GPUs"),
    ("gpu_mixed", "mixed_float16 (GPU)"),
    ("gpu_xla", "XLA jit_compile (GPU)"),
]


def child(config: str, steps: int, batch: int) -> dict:
    """Train in this process with ``config``; samples per second."""
    import numpy as np
    import tensorflow as tf

    if config in ("mirrored1", "mirrored2"):
        cpu = tf.config.list_physical_devices("CPU")[0]
        n = int(config[-1])
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * n
        )
    import keras

    if config == "mixed":
        keras.config.set_dtype_policy("mixed_bfloat16")
    if config == "gpu_mixed":
        keras.config.set_dtype_policy("mixed_float16")
    if config.startswith("mirrored"):
        devices = [d.name for d in tf.config.list_logical_devices("CPU")]
        strategy = tf.distribute.MirroredStrategy(devices)
    elif config == "gpu_mirrored":
        strategy = tf.distribute.MirroredStrategy()
    else:
        strategy = tf.distribute.get_strategy()  # the default: one device
    keras.utils.set_random_seed(0)
    with strategy.scope():
        model = keras.Sequential([
            keras.Input((28, 28, 1)),
            keras.layers.Conv2D(32, 3, activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Conv2D(64, 3, activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Flatten(),
            keras.layers.Dense(128, activation="relu"),
            keras.layers.Dense(10, activation="softmax", dtype="float32"),
        ])  # fmt: skip
        model.compile(
            optimizer="adam",
            loss="sparse_categorical_crossentropy",
            jit_compile=config in ("xla", "gpu_xla"),
        )
    rng = np.random.default_rng(0)
    x = rng.random((batch * 8, 28, 28, 1), dtype="float32")
    y = rng.integers(0, 10, batch * 8).astype("int32")
    data = tf.data.Dataset.from_tensor_slices((x, y)).batch(batch, drop_remainder=True)
    data = data.cache().repeat().prefetch(tf.data.AUTOTUNE)
    model.fit(data, epochs=1, steps_per_epoch=5, verbose=0)  # warm up: trace and compile
    start = time.perf_counter()
    model.fit(data, epochs=1, steps_per_epoch=steps, verbose=0)
    seconds = time.perf_counter() - start
    return {"samples_per_s": steps * batch / seconds, "replicas": strategy.num_replicas_in_sync}


def run(config: str, steps: int, batch: int) -> dict:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    if not config.startswith("gpu"):
        env["CUDA_VISIBLE_DEVICES"] = ""  # the CPU figures on the CPU, GPU or not
    done = subprocess.run(
        [sys.executable, __file__, "--child", config, "--steps", str(steps), "--batch", str(batch)],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode or not lines:
        return {"error": (done.stderr.strip().splitlines() or ["no output"])[-1]}
    return json.loads(lines[-1])


def has_gpu() -> bool:
    code = "import tensorflow as tf; print(len(tf.config.list_physical_devices('GPU')))"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    return done.stdout.strip().splitlines()[-1:] not in ([], ["0"])


def report(title: str, configs: list[tuple[str, str]], steps: int, batch: int) -> None:
    print(title)
    results = {key: run(key, steps, batch) for key, _ in configs}
    base = results[configs[0][0]].get("samples_per_s")
    for key, label in configs:
        r = results[key]
        if "error" in r:
            print(f"  {label:36s}  failed: {r['error']}")
            continue
        ratio = f"{r['samples_per_s'] / base:5.2f}x" if base else "  n/a"
        print(f"  {label:36s} {r['samples_per_s']:9.0f} samples/s  {ratio}  "
              f"({r['replicas']} replica(s))")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.steps, args.batch)))
        return
    print(f"Small CNN, 28x28x1, global batch {args.batch}, {args.steps} steps; ratio: "
          "against the first line of each group")  # fmt: skip
    report("CPU", CPU, args.steps, args.batch)
    if has_gpu():
        report("GPU", GPU, args.steps * 5, args.batch)
    else:
        print("GPU: none visible to TensorFlow (no GPU figures)")


if __name__ == "__main__":
    main()
