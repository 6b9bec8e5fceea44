"""The monitor's compute: profiles and constraints, drift, model quality, bias metrics and
SHAP explanations. Pure numpy, scipy, pandas and pyarrow; no Django."""
