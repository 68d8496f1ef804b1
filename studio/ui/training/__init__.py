"""The training side of the editor: data, training settings, the training run and its results.

* :class:`~studio.ui.training.settings_panel.TrainingSettingsWidget`: ``settings["training"]``
  (optimizer and schedule, loss and metrics per output, fit options, callbacks).
* :class:`~studio.ui.training.data_panel.DataWidget`: ``settings["data"]`` (source, splits,
  the mapping of fields to the model's inputs and outputs) and a preview of the data.
"""
