/*
 * test_scenarios.c: the accountability stories (tests/scenarios/stories.c) as cmocka tests, over
 * one data directory, in order.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>

#include "scenarios/harness.c"
#include "scenarios/stories.c"

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(story_draft_delegated),
        cmocka_unit_test(story_send_verified),
        cmocka_unit_test(story_modified_retry),
        cmocka_unit_test(story_agent_self_approval),
        cmocka_unit_test(story_reuse),
        cmocka_unit_test(story_expiry),
        cmocka_unit_test(story_push_production),
        cmocka_unit_test(story_summary_auto),
        cmocka_unit_test(story_impactful_auto_refused),
        cmocka_unit_test(story_wrong_approver),
        cmocka_unit_test(story_rejected),
        cmocka_unit_test(story_push_branch),
        cmocka_unit_test(story_hr_record),
        cmocka_unit_test(story_outcome_checks),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
