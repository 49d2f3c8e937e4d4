"""MoD-DNN (Liu et al., ACM TOSN 2025) in PyTorch: model, SCG layer, training, model files.

Modules: ``config`` (ModelConfig, TrainConfig), ``model`` (MoDDNN and its layers), ``scg``
(Algorithm 1), ``train``, ``data`` (simulated / recorded labelled CFRs), ``modelfile``
(safetensors + JSON, TorchScript export), ``infer``, ``baselines``, ``evaluate``. See
docs/moddnn.md. Plain PyTorch/numpy: never imports GNU Radio (DESIGN section 2).
"""
