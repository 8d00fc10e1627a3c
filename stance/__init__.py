"""stance: stance labelling of real discussion threads.

The notebook API (`stance.parse`, `stance.label`, `stance.load_model`,
`stance.to_convokit`, `stance.read_convokit`) lives in `stance.api`; importing
`stance` loads none of pandas, scikit-learn or torch.
"""

__version__ = "0.1.0"

from stance.api import label, load_model, parse, read_convokit, to_convokit  # noqa: E402

__all__ = ["label", "load_model", "parse", "read_convokit", "to_convokit"]
