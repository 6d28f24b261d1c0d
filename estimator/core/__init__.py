"""The pure core: fee schedules, request rules, pricing, cost sharing, prior authorization, the engine and
its answer. It imports pandas, numpy and the standard library only, and nothing else of this package."""
