//! The link model against its profile, on a simulated clock.

use crate::{Direction, DirectionProfile, Drop, Fate, GilbertElliott, LinkProfile, Outages, Relay};

/// Sends `count` datagrams of `bytes`, one every `gap_us`, and returns the fates.
fn run(direction: &mut Direction, count: u64, bytes: usize, gap_us: u64) -> Vec<Fate> {
    (0..count)
        .map(|i| direction.send(i * gap_us, bytes))
        .collect()
}

fn lossy_only(loss: GilbertElliott) -> DirectionProfile {
    DirectionProfile {
        loss,
        ..DirectionProfile::CLEAN
    }
}

#[test]
fn edge_and_3g_lose_what_their_profiles_say() {
    for (name, low, high) in [("edge", 0.03, 0.05), ("3g", 0.01, 0.02)] {
        let profile = LinkProfile::named(name).unwrap();
        let mean = profile.down.loss.mean_loss();
        assert!((low..=high).contains(&mean), "{name}: model mean {mean}");
        let mut d = Direction::new(lossy_only(profile.down.loss), None, 7);
        let fates = run(&mut d, 200_000, 1200, 1);
        let lost = fates
            .iter()
            .filter(|f| **f == Fate::Dropped(Drop::Loss))
            .count() as f64
            / fates.len() as f64;
        assert!(
            (lost - mean).abs() < 0.004,
            "{name}: measured loss {lost}, model {mean}"
        );
    }
}

#[test]
fn losses_come_in_bursts() {
    // The same mean loss, bursty and independent: the bursty link has far
    // more losses right after a loss.
    let bursty = LinkProfile::edge().down.loss;
    let mean = bursty.mean_loss();
    let independent = GilbertElliott {
        good_to_bad: 0.0,
        bad_to_good: 1.0,
        loss_good: mean,
        loss_bad: mean,
    };
    let after_loss = |loss: GilbertElliott| {
        let mut d = Direction::new(lossy_only(loss), None, 11);
        let lost: Vec<bool> = run(&mut d, 200_000, 1200, 1)
            .iter()
            .map(|f| *f == Fate::Dropped(Drop::Loss))
            .collect();
        let pairs = lost.windows(2).filter(|w| w[0]).count() as f64;
        let both = lost.windows(2).filter(|w| w[0] && w[1]).count() as f64;
        both / pairs
    };
    let b = after_loss(bursty);
    let i = after_loss(independent);
    assert!(b > 0.25, "bursty: P(loss | loss before) = {b}");
    assert!(i < 0.06, "independent: P(loss | loss before) = {i}");
}

#[test]
fn the_bandwidth_cap_holds_and_a_full_queue_drops_the_tail() {
    let profile = DirectionProfile {
        rate_bits_per_s: 200_000,
        burst_bytes: 3_000,
        queue_bytes_max: 64 * 1024,
        ..DirectionProfile::CLEAN
    };
    // Offered at 10× the cap for 10 s: 1000-byte datagrams every 4 ms.
    let mut d = Direction::new(profile, None, 1);
    let fates = run(&mut d, 2_500, 1000, 400);
    let delivered: Vec<u64> = fates
        .iter()
        .filter_map(|f| match f {
            Fate::Deliver { at_us } => Some(*at_us),
            _ => None,
        })
        .collect();
    let queue_drops = fates
        .iter()
        .filter(|f| **f == Fate::Dropped(Drop::QueueFull))
        .count();
    assert!(queue_drops > 2000, "drop-tail: {queue_drops}");
    // Everything delivered by t fits in rate × t plus burst plus queue.
    for (i, at_us) in delivered.iter().enumerate() {
        let bytes = (i as u64 + 1) * 1000;
        let allowed = at_us * 200_000 / 8_000_000 + 3_000 + 1000;
        assert!(bytes <= allowed, "{bytes} bytes by {at_us} µs");
    }
    // And the link is kept busy: about 25 kB/s over the run.
    let last_s = *delivered.last().unwrap() as f64 / 1e6;
    let rate = delivered.len() as f64 * 1000.0 / last_s;
    assert!((23_000.0..=26_000.0).contains(&rate), "{rate} B/s");
    // The queue never held more than its bound: the last datagram waited at
    // most queue_bytes_max / rate (2.6 s).
    let wait_s = last_s - 0.4 * 2_499.0 / 1000.0;
    assert!(wait_s <= 2.7, "waited {wait_s} s");
}

#[test]
fn delay_and_jitter_never_reorder() {
    let profile = DirectionProfile {
        delay_ms: 370,
        jitter_ms: 60,
        ..DirectionProfile::CLEAN
    };
    let mut d = Direction::new(profile, None, 3);
    let fates = run(&mut d, 10_000, 100, 1_000);
    let mut last = 0;
    let mut spread = (u64::MAX, 0);
    for (i, f) in fates.iter().enumerate() {
        let Fate::Deliver { at_us } = *f else {
            panic!("lost without loss")
        };
        assert!(at_us >= last, "reordered");
        last = at_us;
        let delay = at_us - i as u64 * 1_000;
        spread = (spread.0.min(delay), spread.1.max(delay));
    }
    assert!(spread.0 >= 370_000 && spread.1 <= 430_000, "{spread:?}");
    assert!(spread.1 - spread.0 > 40_000, "no jitter: {spread:?}");
}

#[test]
fn outages_follow_their_schedule_then_the_link_stays_up() {
    let outages = Outages {
        up_ms: 30_000,
        down_ms: 60_000,
        count: 3,
    };
    let s = |x: u64| x * 1_000_000;
    assert!(outages.is_up(0) && outages.is_up(s(29)));
    assert!(!outages.is_up(s(30)) && !outages.is_up(s(89)));
    assert!(outages.is_up(s(90)) && !outages.is_up(s(120)));
    assert!(!outages.is_up(s(269)) && outages.is_up(s(270)));
    assert!(
        outages.is_up(s(100_000)),
        "up for good after the last outage"
    );
    assert_eq!(outages.started(s(29)), 0);
    assert_eq!(outages.started(s(30)), 1);
    assert_eq!(outages.started(s(125)), 2);
    assert_eq!(outages.started(s(100_000)), 3);

    // A datagram sent while up but arriving inside an outage is lost too.
    let profile = DirectionProfile {
        delay_ms: 500,
        ..DirectionProfile::CLEAN
    };
    let mut d = Direction::new(profile, Some(outages), 5);
    assert!(matches!(d.send(s(29), 100), Fate::Deliver { .. }));
    assert_eq!(d.send(s(29) + 600_000, 100), Fate::Dropped(Drop::Outage));
    assert_eq!(d.send(s(60), 100), Fate::Dropped(Drop::Outage));
    assert_eq!(
        d.send(s(95), 100),
        Fate::Deliver {
            at_us: s(95) + 500_000
        }
    );
    // flaky never settles.
    let flaky = LinkProfile::flaky().outages.unwrap();
    assert!(!flaky.is_up(s(90) * 1_000 + s(31)));
}

#[test]
fn a_seed_replays_the_same_link() {
    let fates = |seed| {
        let mut d = Direction::new(LinkProfile::edge().down, None, seed);
        run(&mut d, 5_000, 1200, 20_000)
    };
    assert_eq!(fates(42), fates(42));
    assert_ne!(fates(42), fates(43));
}

/// The relay counts the bytes a full queue dropped, apart from what it
/// let in: they never took the link's airtime, and `danvan-bench link`
/// leaves them out of its floor, so that a sender that overflows the
/// queue cannot lower its own ratio by it.
#[tokio::test]
async fn what_a_full_queue_drops_is_counted_in_bytes() {
    let loopback: std::net::SocketAddr = "127.0.0.1:0".parse().unwrap();
    let upstream = tokio::net::UdpSocket::bind(loopback).await.unwrap();
    // 1,000 B/s behind a queue of two datagrams: ten sent at once leave
    // most of them at the tail.
    let slow = DirectionProfile {
        rate_bits_per_s: 8_000,
        burst_bytes: 0,
        queue_bytes_max: 2_000,
        ..DirectionProfile::CLEAN
    };
    let profile = LinkProfile {
        up: slow,
        down: DirectionProfile::CLEAN,
        outages: None,
    };
    let relay = Relay::start(loopback, upstream.local_addr().unwrap(), profile, 1)
        .await
        .unwrap();
    let client = tokio::net::UdpSocket::bind(loopback).await.unwrap();
    for _ in 0..10 {
        client
            .send_to(&[0; 1_000], relay.local_addr())
            .await
            .unwrap();
    }
    let mut waited = 0;
    while relay.figures().up.sent_packets < 10 && waited < 500 {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        waited += 1;
    }
    let up = relay.figures().up;
    assert_eq!((up.sent_packets, up.sent_bytes), (10, 10_000));
    assert!(up.dropped_queue >= 5, "{up:?}");
    assert_eq!(up.dropped_queue_bytes, up.dropped_queue * 1_000);
}
