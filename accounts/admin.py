from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone

from accounts import services
from accounts.models import ApiToken, InviteCode, User, normalize_email


class _NormalizedEmailMixin(forms.ModelForm):
    def clean_email(self) -> str:
        return normalize_email(self.cleaned_data["email"])


class UserCreationForm(_NormalizedEmailMixin, AdminUserCreationForm):
    class Meta:
        model = User
        fields = ("email",)
        field_classes: dict[str, Any] = {}


class UserEditForm(_NormalizedEmailMixin, UserChangeForm):
    class Meta:
        model = User
        fields = (
            "email",
            "password",
            "is_active",
            "email_verified_at",
            "is_staff",
            "is_superuser",
            "groups",
            "user_permissions",
        )
        field_classes: dict[str, Any] = {}


class VerifiedFilter(admin.SimpleListFilter):
    title = "email verified"
    parameter_name = "verified"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "Verified"), ("no", "Not verified")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() in ("yes", "no"):
            return queryset.filter(email_verified_at__isnull=self.value() == "no")
        return queryset


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    form = UserEditForm
    add_form = UserCreationForm
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Status", {"fields": ("is_active", "email_verified_at")}),
        ("Permissions", {"fields": ("is_staff", "is_superuser", "groups", "user_permissions")}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("email", "usable_password", "password1", "password2")}),
    )
    list_display = ("email", "is_verified", "is_active", "is_staff", "date_joined", "last_login")
    list_filter = (VerifiedFilter, "is_active", "is_staff", "is_superuser")
    search_fields = ("email",)
    ordering = ("-date_joined",)
    readonly_fields = ("last_login", "date_joined")

    @admin.display(boolean=True, description="verified")
    def is_verified(self, obj: User) -> bool:
        return obj.is_verified


class InviteStateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("unused", "Unused"), ("used", "Used"), ("expired", "Expired, unused")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        now = timezone.now()
        if self.value() == "used":
            return queryset.filter(used_at__isnull=False)
        if self.value() == "unused":
            return queryset.filter(used_at__isnull=True).exclude(expires_at__lte=now)
        if self.value() == "expired":
            return queryset.filter(used_at__isnull=True, expires_at__lte=now)
        return queryset


class GenerateInviteCodesForm(forms.Form):
    count = forms.IntegerField(min_value=1, max_value=1000, initial=10)
    expires_in_days = forms.IntegerField(
        min_value=1, required=False, help_text="Leave empty for codes that never expire."
    )


@admin.register(InviteCode)
class InviteCodeAdmin(admin.ModelAdmin):
    change_list_template = "admin/accounts/invitecode/change_list.html"
    list_display = ("code", "state", "created_by", "created_at", "expires_at", "used_by", "used_at")
    list_filter = (InviteStateFilter, "created_at", "used_at")
    search_fields = ("code", "used_by__email", "created_by__email")
    readonly_fields = ("used_by", "used_at", "created_by", "created_at")
    fields = ("code", "expires_at", "created_by", "created_at", "used_by", "used_at")
    list_select_related = ("created_by", "used_by")
    ordering = ("-created_at",)

    @admin.display(description="state")
    def state(self, obj: InviteCode) -> str:
        if obj.is_used:
            return "used"
        return "expired" if obj.is_expired() else "unused"

    def save_model(self, request: HttpRequest, obj: InviteCode, form: Any, change: bool) -> None:
        obj.code = services.normalize_invite_code(obj.code)
        if not change:
            obj.created_by = request.user  # type: ignore[assignment]
        super().save_model(request, obj, form, change)

    def get_urls(self) -> list[URLPattern]:
        generate = path(
            "generate/",
            self.admin_site.admin_view(self.generate_view),
            name="accounts_invitecode_generate",
        )
        return [generate, *super().get_urls()]

    def generate_view(self, request: HttpRequest) -> HttpResponse:
        """The "Generate codes" action: N new codes, created by the staff user."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = GenerateInviteCodesForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            days = form.cleaned_data["expires_in_days"]
            codes = services.invite_code_create_batch(
                count=form.cleaned_data["count"],
                created_by=request.user,  # type: ignore[arg-type]
                expires_at=timezone.now() + timedelta(days=days) if days else None,
            )
            messages.success(request, f"Generated {len(codes)} codes: {', '.join(c.code for c in codes)}")
            return HttpResponseRedirect(reverse("admin:accounts_invitecode_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "form": form,
            "title": "Generate invite codes",
        }
        return TemplateResponse(request, "admin/accounts/invitecode/generate.html", context)


class TokenStateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("active", "Active"), ("revoked", "Revoked"), ("expired", "Expired")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        now = timezone.now()
        if self.value() == "active":
            return queryset.filter(revoked_at__isnull=True).exclude(expires_at__lte=now)
        if self.value() == "revoked":
            return queryset.filter(revoked_at__isnull=False)
        if self.value() == "expired":
            return queryset.filter(revoked_at__isnull=True, expires_at__lte=now)
        return queryset


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are minted through the API (the secret is shown once there);
    here they can be inspected, renamed, given an expiry or revoked. The
    digest is never shown or editable."""

    list_display = ("prefix", "name", "user", "created_at", "expires_at", "last_used_at", "revoked_at")
    list_filter = (TokenStateFilter, "created_at", "last_used_at")
    search_fields = ("prefix", "name", "user__email")
    fields = ("user", "prefix", "name", "created_at", "expires_at", "last_used_at", "revoked_at")
    readonly_fields = ("user", "prefix", "created_at", "last_used_at", "revoked_at")
    list_select_related = ("user",)
    ordering = ("-created_at",)
    actions = ("revoke",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Revoke selected tokens")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        count = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        self.message_user(request, f"Revoked {count} tokens.")
