"""Quickstart: fit a model on the bundled Adult data, sample, condition, save and reload.

Run it with ``python examples/quickstart.py``; set ``SYNTHKIT_EXAMPLE_EPOCHS`` to train
longer (the default keeps the example quick).
"""

import os
import tempfile
from pathlib import Path

import synthkit
from synthkit.datasets import load_adult

epochs = int(os.environ.get("SYNTHKIT_EXAMPLE_EPOCHS", "5"))

# 1. Load the real data and look at what synthkit detects in it.
real = load_adult("train")
metadata = synthkit.Metadata.detect(real)
print(metadata)

# 2. Fit a CTGAN (scikit-learn style: parameters in, fit returns the model).
model = synthkit.Synthesizer("ctgan", epochs=epochs, random_state=0)
model.fit(real, metadata)
print(model.loss_history_.tail(3))

# 3. Sample unconditionally, then only high earners (the model's own conditioning).
synthetic = model.sample(5_000, random_state=1)
high_earners = model.sample(1_000, conditions={"income": ">50K"}, random_state=2)
assert (high_earners["income"] == ">50K").all()
print(synthetic.head())

# 4. Save the synthetic rows and the model, then load the model and sample again.
with tempfile.TemporaryDirectory() as folder:
    synthkit.save(synthetic, str(Path(folder) / "adult_synthetic.parquet"))
    model_file = model.save(Path(folder) / "adult.synthkit")
    reloaded = synthkit.load_model(model_file)
    again = reloaded.sample(5_000, random_state=1)
    assert again.equals(synthetic), "a reloaded model samples the same rows for the same seed"
    print(f"Reloaded {model_file.name}: identical samples for the same seed.")
