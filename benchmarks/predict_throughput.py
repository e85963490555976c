"""How much runner.predict's checks, chunking and file writing cost next to a bare pyfunc predict.

    python benchmarks/predict_throughput.py [ROWS]

Trains one small model into a temporary store, writes ROWS synthetic rows as CSV, then measures side
by side in this process: pandas read + pyfunc predict (labels only, nothing written) versus
runner.predict (signature checks, labels and probabilities, output CSV) at two chunk sizes.
"""
from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))


def main(rows: int) -> None:
    import mlflow
    import numpy as np
    import pandas as pd

    from helpers import compose
    from runner import predict
    from runner.job import run as job

    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        uri = f"sqlite:///{folder / 'mlflow.db'}"
        os.environ["MLFLOW_TRACKING_URI"] = uri
        mlflow.set_tracking_uri(uri)
        job.run(compose([f"mlflow.tracking_uri={uri}", "registry.register=true", "dataset.n_samples=2000"]))
        model_uri = "models:/synthetic-imbalanced-classifier@champion"
        rng = np.random.default_rng(0)
        frame = pd.DataFrame(rng.normal(size=(rows, 10)), columns=[f"x{i}" for i in range(10)])
        source = folder / "rows.csv"
        frame.to_csv(source, index=False)

        t = time.perf_counter()
        pyfunc = mlflow.pyfunc.load_model(model_uri)
        labels = pyfunc.predict(pd.read_csv(source))
        bare = time.perf_counter() - t

        results = {}
        for chunk in (10_000, 100_000):
            out = folder / f"out-{chunk}.csv"
            t = time.perf_counter()
            predict.run(model_uri, source, out, chunk_size=chunk, progress=False)
            results[chunk] = time.perf_counter() - t
            assert pd.read_csv(out)["prediction"].tolist() == np.asarray(labels).ravel().tolist()

    print(f"{rows} rows, 10 features, logreg")
    print(f"  pandas read + pyfunc predict (labels only, no output): {bare:.2f}s ({rows / bare:,.0f} rows/s)")
    for chunk, sec in results.items():
        print(f"  runner.predict chunk {chunk:>7,}: {sec:.2f}s ({rows / sec:,.0f} rows/s), "
              f"{sec / bare:.2f}x the bare predict")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200_000)
