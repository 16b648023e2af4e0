"""A BERT-style classifier that mean-pools its tokens (how sentence encoders such as all-MiniLM-L6-v2
were trained) instead of reading [CLS] through the pooler.

No transformers class pools so, so this file travels with the model: `save_pretrained` copies it next
to the weights and records it in config.json's `auto_map`, and the model then opens anywhere with
`AutoModelForSequenceClassification.from_pretrained(dir, trust_remote_code=True)`. It imports only
torch and transformers, so it runs without alignkit.
"""

from __future__ import annotations

import torch
from transformers import BertForSequenceClassification
from transformers.modeling_outputs import SequenceClassifierOutput


def masked_mean(hidden: torch.Tensor, attention_mask: torch.Tensor | None) -> torch.Tensor:
    """hidden: (B, T, H); attention_mask: (B, T) 1 for tokens, 0 for padding -> (B, H) mean of tokens."""
    if attention_mask is None:
        return hidden.mean(dim=1)
    weights = attention_mask.to(hidden.dtype).unsqueeze(-1)
    return (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1)


class BertMeanPoolForSequenceClassification(BertForSequenceClassification):
    """BertForSequenceClassification with the mean of the last hidden states as the pooled vector."""

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, labels=None, **kwargs):
        kwargs.pop("return_dict", None)
        outputs = self.bert(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids, **kwargs)
        logits = self.classifier(self.dropout(masked_mean(outputs.last_hidden_state, attention_mask)))
        loss = None
        if labels is not None:
            if self.config.problem_type == "regression":
                loss = torch.nn.functional.mse_loss(logits.squeeze(-1), labels.float())
            elif self.config.problem_type == "multi_label_classification":
                loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, labels.float())
            else:
                loss = torch.nn.functional.cross_entropy(logits, labels)
        return SequenceClassifierOutput(loss=loss, logits=logits)


BertMeanPoolForSequenceClassification.register_for_auto_class("AutoModelForSequenceClassification")
