//! Encode and decode speed of a typical 0200 sale and its 0210 answer,
//! with and without the MAC. Run: `cargo bench --bench wire`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use payfault::wire::{self, MacKey, Message, Mti};

fn sale() -> Message {
    let mut message = Message::new(Mti::parse("0200").unwrap());
    message
        .set_text(2, "4111111111111111")
        .set_text(3, "000000")
        .set_text(4, "000000001250")
        .set_text(7, "1122093000")
        .set_text(11, "000042")
        .set_text(12, "093000")
        .set_text(13, "1122")
        .set_text(14, "2812")
        .set_text(32, "12345")
        .set_text(37, "000000000042")
        .set_text(41, "TERM0001")
        .set_text(42, "MERCHANT0000001")
        .set_text(49, "978")
        .set_text(60, "000001")
        .set(64, vec![0; 8]);
    message
}

fn answer() -> Message {
    let mut message = sale();
    message.mti = Mti::parse("0210").unwrap();
    message.remove(2);
    message.remove(14);
    message.set_text(38, "A1B2C3").set_text(39, "00");
    message
}

fn bench_codec(c: &mut Criterion) {
    let key = MacKey(*b"0123456789ABCDEF");
    for (name, message) in [("0200", sale()), ("0210", answer())] {
        let bytes = wire::encode(&message).unwrap();
        let mut group = c.benchmark_group(format!("wire/{name}"));
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_function("encode", |b| {
            b.iter(|| wire::encode(black_box(&message)).unwrap())
        });
        group.bench_function("decode", |b| b.iter(|| wire::decode(black_box(&bytes)).unwrap()));
        let mut signed = message.clone();
        let signed_bytes = wire::sign(&mut signed, &key).unwrap();
        group.bench_function("sign", |b| {
            b.iter(|| wire::sign(black_box(&mut signed.clone()), &key).unwrap())
        });
        group.bench_function("verify", |b| {
            b.iter(|| wire::verify(black_box(&signed_bytes), &key).unwrap())
        });
        group.bench_function("decode_typed", |b| {
            b.iter(|| wire::WireMessage::from_message(&wire::decode(black_box(&bytes)).unwrap()))
        });
        group.finish();
    }
}

criterion_group!(benches, bench_codec);
criterion_main!(benches);
