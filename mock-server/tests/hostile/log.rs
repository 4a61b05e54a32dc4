//! A request log on a full disk: the mock keeps answering, says so once on stderr, and counts
//! the lines it could not write on `/metrics`.

use crate::support::{metric, Mock};

#[tokio::test]
async fn a_full_disk_is_counted_and_said_once() {
    let mock = Mock::start(&["--request-log", "/dev/full"]);
    for _ in 0..5 {
        mock.assert_answers().await;
    }
    assert_eq!(metric(mock.addr, "stampede_mock_request_log_failures_total").await, 5.0);
    let stderr = mock.stop_and_read_stderr();
    assert_eq!(
        stderr.matches("request log could not be written").count(),
        1,
        "{stderr}"
    );
}
