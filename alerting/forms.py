"""The alert rule's admin form: only the fields of the kind chosen under "Watches" are shown and accepted.

The page's script (alerting/static/alerting/rule_kind.js) shows the fields of the chosen kind and hides the others;
the server still refuses a value in another kind's field (a form posted without the script, or through the API
layer), naming the kind that field belongs to, so a metric rule never silently carries an event name.
"""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from alerting.models import AlertRule
from alerting.models.rules import RuleKind
from opsportal.lib.forms import HumanDurationField

# The fields each kind uses; the script reads the same grouping from each widget's data-rule-kind.
KIND_FIELDS = {
    RuleKind.METRIC: ("metric_name", "comparator", "threshold"),
    RuleKind.CHECK: ("check_name", "check_status"),
    RuleKind.EVENT: ("event_name",),
}
# Fields that always hold a value (a choice with a default): never "filled in" by mistake, so never refused.
ALWAYS_SET = {"comparator", "check_status"}

KIND_HELP = _("What the rule watches. Only the fields of this kind are shown: metric, comparator and threshold for "
              "a metric; check and status for a health check; the event's name for an event.")
DURATIONS = ("for_duration", "resolve_after", "repeat_interval")


class AlertRuleForm(forms.ModelForm):
    class Meta:
        model = AlertRule
        fields = [
            "name", "description", "enabled", "severity", "kind", "metric_name", "comparator", "threshold",
            "check_name", "check_status", "event_name", "label_matchers", "for_duration", "resolve_after",
            "repeat_interval", "channels", "notify_on_resolve",
        ]  # fmt: skip
        # 30s, 5m, 1h30m, HH:MM:SS wherever the form is used (the admin's formfield_overrides say the same)
        field_classes = dict.fromkeys(DURATIONS, HumanDurationField)

    class Media:
        js = ["alerting/rule_kind.js"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if "kind" in self.fields:
            self.fields["kind"].help_text = KIND_HELP
            self.fields["kind"].widget.attrs["data-rule-kind-select"] = ""
        for kind, names in KIND_FIELDS.items():
            for name in names:
                if name in self.fields:
                    self.fields[name].widget.attrs["data-rule-kind"] = kind
        for name in DURATIONS:  # the duration syntax, after what the field means, as one translatable sentence
            field = self.fields.get(name)
            if field is not None and field.help_text:
                field.help_text = gettext("%(meaning)s For example 30s, 5m, 1h30m or 7d (or HH:MM:SS).") % {
                    "meaning": field.help_text}

    def clean(self) -> dict:
        data = super().clean()
        kind = data.get("kind")
        if kind not in KIND_FIELDS:
            return data
        labels = dict(RuleKind.choices)
        for other, names in KIND_FIELDS.items():
            if other == kind:
                continue
            for name in names:
                if name in ALWAYS_SET or name not in self.fields:
                    continue
                if data.get(name) not in (None, ""):
                    self.add_error(name, gettext(
                        "Only a rule that watches “%(kind)s” uses this field: empty it, or choose that under "
                        "“Watches”.") % {"kind": labels[other]})
        return data
