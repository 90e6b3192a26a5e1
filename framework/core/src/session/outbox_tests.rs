//! The outbox's unit tests.

use super::*;
use tidings_protocol::CloseCode;

/// A position in the one epoch of these tests.
fn at(offset: u64) -> StreamPosition {
    StreamPosition { offset, epoch: "e".into() }
}

fn body(n: usize) -> Bytes {
    Bytes::from(vec![b'x'; n])
}

async fn seqs(outbox: &Outbox, generation: u64, max: usize) -> Vec<u64> {
    let mut out = Vec::new();
    assert_eq!(outbox.next(generation, &mut out, max).await, Next::Frames);
    out.iter().map(|f| f.seq.unwrap()).collect()
}

#[actix_rt::test]
async fn numbers_frames_and_hands_them_out_in_order() {
    let outbox = Outbox::new(10, 1000);
    outbox.push(body(1), None, None, false).unwrap();
    outbox.push(body(2), None, None, false).unwrap();
    assert_eq!(seqs(&outbox, 0, 1).await, [1]);
    assert_eq!(seqs(&outbox, 0, 10).await, [2]);
}

#[actix_rt::test]
async fn unacknowledged_frames_are_sent_again_to_the_next_connection() {
    let outbox = Outbox::new(10, 1000);
    for _ in 0..4 {
        outbox.push(body(1), None, None, false).unwrap();
    }
    assert_eq!(seqs(&outbox, 0, 10).await, [1, 2, 3, 4]);
    outbox.ack(1);
    // The client processed up to 2 (its ack for 2 was lost with the connection).
    let generation = outbox.take_over(2).unwrap();
    assert_eq!(outbox.next(0, &mut Vec::new(), 10).await, Next::Superseded);
    assert_eq!(seqs(&outbox, generation, 10).await, [3, 4]);
    // Nothing beyond 4 was sent: that point cannot be resumed from.
    assert_eq!(outbox.take_over(5), Err(ResumeGap));
    assert!(outbox.take_over(4).is_ok());
}

#[actix_rt::test]
async fn a_resume_from_before_what_the_client_acknowledged_since_goes_on_from_its_acknowledgement() {
    let outbox = Outbox::new(10, 1000);
    for _ in 0..4 {
        outbox.push(body(1), None, None, false).unwrap();
    }
    assert_eq!(seqs(&outbox, 0, 10).await, [1, 2, 3, 4]);
    // A client switching transport opened its new connection having processed 1, then acknowledged 3 on the old
    // one before the new one reached the server.
    outbox.ack(3);
    let generation = outbox.take_over(1).unwrap();
    assert_eq!(seqs(&outbox, generation, 10).await, [4]);
}

#[actix_rt::test]
async fn acknowledged_frames_free_their_room() {
    let outbox = Outbox::new(2, 1000);
    outbox.push(body(1), None, None, false).unwrap();
    outbox.push(body(1), None, None, false).unwrap();
    assert_eq!(seqs(&outbox, 0, 10).await, [1, 2]);
    outbox.ack(2);
    outbox.push(body(1), None, None, false).unwrap();
    outbox.push(body(1), None, None, false).unwrap();
    assert_eq!(seqs(&outbox, 0, 10).await, [3, 4]);
}

#[actix_rt::test]
async fn sent_frames_beyond_the_limits_are_forgotten_not_fatal() {
    let outbox = Outbox::new(2, 1000);
    for round in 0..3u64 {
        outbox.push(body(1), None, None, false).unwrap();
        outbox.push(body(1), None, None, false).unwrap();
        assert_eq!(seqs(&outbox, 0, 10).await, [2 * round + 1, 2 * round + 2]);
    }
    // Only the last two sent frames are kept: a resume from before them is refused.
    assert_eq!(outbox.take_over(3), Err(ResumeGap));
    let generation = outbox.take_over(4).unwrap();
    assert_eq!(seqs(&outbox, generation, 10).await, [5, 6]);
}

#[actix_rt::test]
async fn overflow_by_count_closes_as_slow_consumer_and_frees_the_queue() {
    let outbox = Outbox::new(2, 1000);
    outbox.push(body(1), None, None, false).unwrap();
    outbox.push(body(1), None, None, false).unwrap();
    assert_eq!(outbox.push(body(1), None, None, false), Err(PushError::Overflow));
    assert_eq!(outbox.push(body(1), None, None, false), Err(PushError::Closed));
    match outbox.next(0, &mut Vec::new(), 10).await {
        Next::Close(close) => assert_eq!(close.code, CloseCode::SLOW_CONSUMER),
        other => panic!("{other:?}"),
    }
}

#[actix_rt::test]
async fn overflow_by_bytes_but_one_big_frame_always_fits() {
    let outbox = Outbox::new(100, 10);
    assert!(outbox.push(body(50), None, None, false).is_ok());
    assert_eq!(outbox.push(body(1), None, None, false), Err(PushError::Overflow));
}

#[actix_rt::test]
async fn close_waits_for_queued_frames() {
    let outbox = Outbox::new(10, 1000);
    outbox.push(body(1), None, None, false).unwrap();
    outbox.close(Close::going_away());
    assert_eq!(outbox.push(body(1), None, None, false), Err(PushError::Closed));
    assert_eq!(seqs(&outbox, 0, 10).await, [1]);
    assert_eq!(outbox.next(0, &mut Vec::new(), 10).await, Next::Close(Close::going_away()));
}

#[actix_rt::test]
async fn held_publications_follow_the_recovered_ones_without_doubles() {
    let outbox = Outbox::new(100, 10_000);
    outbox.hold("t");
    // Live publications 5 and 6 arrive while history (up to 5) is being read; another topic is not held.
    outbox.push(Bytes::from("t5"), None, Some(("t", &at(5))), false).unwrap();
    outbox.push(Bytes::from("u1"), None, Some(("u", &at(1))), false).unwrap();
    outbox.push(Bytes::from("t6"), None, Some(("t", &at(6))), false).unwrap();
    outbox.release(vec![Bytes::from("t4"), Bytes::from("t5")], 5).unwrap();
    outbox.push(Bytes::from("t7"), None, Some(("t", &at(7))), false).unwrap();
    let mut out = Vec::new();
    assert_eq!(outbox.next(0, &mut out, 10).await, Next::Frames);
    let bodies: Vec<_> = out.iter().map(|f| std::str::from_utf8(&f.body).unwrap().to_owned()).collect();
    assert_eq!(bodies, ["u1", "t4", "t5", "t6", "t7"]);
}

#[actix_rt::test]
async fn held_publications_count_against_the_limits() {
    let outbox = Outbox::new(2, 10_000);
    outbox.hold("t");
    outbox.push(Bytes::from("t1"), None, Some(("t", &at(1))), false).unwrap();
    outbox.push(Bytes::from("t2"), None, Some(("t", &at(2))), false).unwrap();
    assert_eq!(outbox.push(Bytes::from("t3"), None, Some(("t", &at(3))), false), Err(PushError::Overflow));
    assert!(outbox.is_closing());
}

#[actix_rt::test]
async fn an_ended_session_cannot_be_taken_over_and_its_reader_is_closed() {
    let outbox = Outbox::new(10, 1000);
    outbox.push(body(1), None, None, false).unwrap();
    outbox.end(Close::going_away());
    assert_eq!(outbox.take_over(0), Err(ResumeGap));
    assert_eq!(outbox.next(0, &mut Vec::new(), 10).await, Next::Close(Close::going_away()));
}

#[actix_rt::test]
async fn a_closing_session_with_frames_left_can_still_be_taken_over_to_deliver_them() {
    let outbox = Outbox::new(10, 1000);
    outbox.push(body(1), None, None, false).unwrap();
    outbox.close(Close::going_away());
    let generation = outbox.take_over(0).unwrap();
    assert_eq!(seqs(&outbox, generation, 10).await, [1]);
    assert_eq!(outbox.next(generation, &mut Vec::new(), 10).await, Next::Close(Close::going_away()));
    assert_eq!(outbox.take_over(1), Err(ResumeGap));
}

#[actix_rt::test]
async fn a_dropped_connection_ends_but_the_next_one_resumes() {
    let outbox = Outbox::new(10, 1000);
    outbox.push(body(1), None, None, false).unwrap();
    assert!(outbox.drop_connection(0));
    assert_eq!(outbox.next(0, &mut Vec::new(), 10).await, Next::Dropped);
    let generation = outbox.take_over(0).unwrap();
    assert_eq!(seqs(&outbox, generation, 10).await, [1]);
    assert!(!outbox.drop_connection(0));
}

#[actix_rt::test]
async fn a_push_from_another_thread_wakes_the_reader() {
    let outbox = std::sync::Arc::new(Outbox::new(10, 1000));
    let pusher = outbox.clone();
    let thread = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(20));
        pusher.push(body(3), None, None, false).unwrap();
    });
    assert_eq!(seqs(&outbox, 0, 10).await, [1]);
    thread.join().unwrap();
}

#[actix_rt::test]
async fn a_late_live_copy_of_a_recovered_publication_is_not_sent_twice() {
    let outbox = Outbox::new(100, 1 << 20);
    outbox.hold("t");
    outbox.push(body(1), None, Some(("t", &at(5))), false).unwrap();
    // History brought 4 and 5; 5 was held too.
    outbox.release(vec![body(1), body(1)], 5).unwrap();
    assert_eq!(seqs(&outbox, 0, 10).await, [1, 2]);
    // The live path delivers 5 again, late (another connection than the history read's), then 6.
    outbox.push(body(1), None, Some(("t", &at(5))), false).unwrap();
    outbox.push(body(1), None, Some(("t", &at(6))), false).unwrap();
    assert_eq!(seqs(&outbox, 0, 10).await, [3]);
    // Once past, the topic is not filtered any more; other topics never were.
    outbox.push(body(1), None, Some(("t", &at(7))), false).unwrap();
    outbox.push(body(1), None, Some(("u", &at(1))), false).unwrap();
    assert_eq!(seqs(&outbox, 0, 10).await, [4, 5]);
}

async fn bodies(outbox: &Outbox, generation: u64) -> Vec<(u64, String)> {
    let mut out = Vec::new();
    assert_eq!(outbox.next(generation, &mut out, 100).await, Next::Frames);
    out.iter().map(|f| (f.seq.unwrap(), String::from_utf8(f.body.to_vec()).unwrap())).collect()
}

#[actix_rt::test]
async fn a_conflated_publication_replaces_its_topics_unsent_one_in_place() {
    let outbox = Outbox::new(10, 1000);
    assert_eq!(outbox.push(Bytes::from("t1"), None, Some(("t", &at(1))), true), Ok(Queued::New));
    assert_eq!(outbox.push(Bytes::from("u1"), None, Some(("u", &at(1))), true), Ok(Queued::New));
    assert_eq!(outbox.push(Bytes::from("reply"), None, None, true), Ok(Queued::New));
    assert_eq!(outbox.push(Bytes::from("t2"), None, Some(("t", &at(2))), true), Ok(Queued::Replaced));
    assert_eq!(outbox.push(Bytes::from("t3-longer"), None, Some(("t", &at(3))), true), Ok(Queued::Replaced));
    // The topic keeps its place in the queue, the sequence numbers stay gap-free, the byte count follows.
    assert_eq!(bodies(&outbox, 0).await, [(1, "t3-longer".into()), (2, "u1".into()), (3, "reply".into())]);

    // Once sent, the next publication is queued anew: a client that keeps up gets every one.
    assert_eq!(outbox.push(Bytes::from("t4"), None, Some(("t", &at(4))), true), Ok(Queued::New));
    assert_eq!(bodies(&outbox, 0).await, [(4, "t4".into())]);
    assert!(!outbox.has_unsent());
}

#[actix_rt::test]
async fn topics_not_conflated_keep_every_publication() {
    let outbox = Outbox::new(10, 1000);
    outbox.push(Bytes::from("t1"), None, Some(("t", &at(1))), false).unwrap();
    outbox.push(Bytes::from("t2"), None, Some(("t", &at(2))), false).unwrap();
    assert_eq!(bodies(&outbox, 0).await, [(1, "t1".into()), (2, "t2".into())]);
}

#[actix_rt::test]
async fn a_lagging_client_of_a_conflated_topic_never_overflows() {
    let outbox = Outbox::new(4, 1000);
    for offset in 1..=10_000 {
        let topic = ["a", "b", "c"][offset as usize % 3];
        outbox.push(Bytes::from(format!("{topic}{offset}")), None, Some((topic, &at(offset))), true).unwrap();
    }
    let got = bodies(&outbox, 0).await;
    assert_eq!(got.len(), 3);
    assert!(got.iter().any(|(_, body)| body == "a9999"), "{got:?}");
}

#[actix_rt::test]
async fn a_replaced_frame_after_a_resume_goes_out_under_its_number() {
    let outbox = Outbox::new(10, 1000);
    outbox.push(Bytes::from("t1"), None, Some(("t", &at(1))), true).unwrap();
    assert_eq!(bodies(&outbox, 0).await, [(1, "t1".into())]);
    // The connection dropped before the client processed frame 1: it is unsent again, and replaceable.
    let generation = outbox.take_over(0).unwrap();
    assert_eq!(outbox.push(Bytes::from("t2"), None, Some(("t", &at(2))), true), Ok(Queued::Replaced));
    assert_eq!(bodies(&outbox, generation).await, [(1, "t2".into())]);
}

#[actix_rt::test]
async fn a_new_subscription_never_replaces_a_publication_of_the_previous_one() {
    let outbox = Outbox::new(10, 1000);
    outbox.push(Bytes::from("t1"), None, Some(("t", &at(1))), true).unwrap();
    // Unsubscribed and subscribed again (its reply in between) while t1 was still unsent.
    outbox.push(Bytes::from("reply"), None, None, false).unwrap();
    outbox.forget_latest("t");
    assert_eq!(outbox.push(Bytes::from("t2"), None, Some(("t", &at(2))), true), Ok(Queued::New));
    assert_eq!(bodies(&outbox, 0).await, [(1, "t1".into()), (2, "reply".into()), (3, "t2".into())]);
}

#[actix_rt::test]
async fn a_recovering_conflated_topic_holds_only_its_newest_publication() {
    let outbox = Outbox::new(3, 1000);
    outbox.hold("t");
    assert_eq!(outbox.push(Bytes::from("t5"), None, Some(("t", &at(5))), true), Ok(Queued::Held));
    for offset in 6..=100 {
        assert_eq!(
            outbox.push(Bytes::from(format!("t{offset}")), None, Some(("t", &at(offset))), true),
            Ok(Queued::Replaced)
        );
    }
    outbox.release(vec![Bytes::from("t4")], 4).unwrap();
    assert_eq!(bodies(&outbox, 0).await, [(1, "t4".into()), (2, "t100".into())]);
}

#[actix_rt::test]
async fn a_replacement_still_counts_against_the_byte_limit() {
    let outbox = Outbox::new(10, 10);
    outbox.push(Bytes::from("t1"), None, Some(("t", &at(1))), true).unwrap();
    outbox.push(Bytes::from("reply"), None, None, false).unwrap();
    assert_eq!(outbox.push(body(9), None, Some(("t", &at(2))), true), Err(PushError::Overflow));
}
