from __future__ import annotations

from datetime import datetime

from django.db import transaction

from api.models import Job
from billing.models import UsageRecord
from billing.pricing import job_cost


def usage_record_create(
    *,
    job: Job,
    model: str,
    input_tokens: int,
    cached_tokens: int,
    output_tokens: int,
    completed_at: datetime,
) -> UsageRecord:
    """Record what a succeeded job cost. Call it inside the transaction that
    marks the job succeeded; the one-to-one on `job` makes a second record for
    the same job fail, so a job is never billed twice."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("usage_record_create must run inside the job's success transaction")
    cost = job_cost(
        model=model, input_tokens=input_tokens, cached_tokens=cached_tokens, output_tokens=output_tokens
    )
    return UsageRecord.objects.create(
        job=job,
        user_id=job.user_id,
        model=model,
        input_tokens=input_tokens,
        cached_tokens=cached_tokens,
        output_tokens=output_tokens,
        request_fee_micros=cost.request_fee_micros,
        input_price_per_million=cost.price.input,
        cached_input_price_per_million=cost.price.cached_input,
        output_price_per_million=cost.price.output,
        cost_micros=cost.total_micros,
        created_at=completed_at,
    )
