"""Deploy: compare the desired definitions with the deployed version, plan, and apply in one transaction.

plan/ holds the operations (diff → ops → render); apply.py runs the same list of operations
that `plan` shows, records the version, and reads versions back for `versions` and `rollback`.
"""
