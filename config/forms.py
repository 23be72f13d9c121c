from django.forms.renderers import TemplatesSetting


class FormRenderer(TemplatesSetting):
    """Every form renders with the site's markup (labels, help text tied to its field
    with aria-describedby, errors next to the field)."""

    form_template_name = "includes/form.html"
    field_template_name = "includes/field.html"
