from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe


@never_cache
@require_safe
def health_live(request):
    """Liveness: the process answers. No dependency is checked, so this is always fast."""
    return JsonResponse({"status": "ok"})
