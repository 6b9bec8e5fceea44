"""The labeling engine: label shapes, consolidation of answers, automated labeling, export
formats and assisted tracking. Pure compute, no Django: usable from a notebook or a worker."""
