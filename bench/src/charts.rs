//! PNG charts with `plotters`: records/s and CPU per million records by client and
//! configuration (producer and consumer panels, grouped bars with min–max whiskers), and
//! the end-to-end latency percentiles; the compression chart (one partition, every codec:
//! producer and consumer records/s and the wire ratio).

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::results::{Config, Kind, Results, Stat, Summary};
use crate::run::HEADLINE;
use crate::spec::{ClientKind, Codec};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

const WIDTH: u32 = 1400;

fn color(c: ClientKind) -> RGBColor {
    match c {
        ClientKind::Sdk => RGBColor(0xd9, 0x5f, 0x02),
        ClientKind::Rdkafka => RGBColor(0x1b, 0x9e, 0x77),
        ClientKind::Krafka => RGBColor(0xe7, 0x29, 0x8a),
        ClientKind::Java => RGBColor(0x75, 0x70, 0xb3),
    }
}

fn err<E: std::fmt::Display>(e: E) -> BoxError {
    e.to_string().into()
}

/// Writes `throughput.png`, `cpu.png`, `latency.png` and `compression.png` into `dir`.
pub fn all(r: &Results, dir: &Path) -> Result<(), BoxError> {
    bars(
        r,
        &dir.join("throughput.png"),
        "records/s (median; whiskers: min–max)",
        |s| s.rate,
        1.0,
    )?;
    bars(
        r,
        &dir.join("cpu.png"),
        "client CPU-seconds per million records (median; Java net of JVM start) — lower is better",
        |s| s.cpu_per_m,
        1.0,
    )?;
    latency(r, &dir.join("latency.png"))?;
    compression(r, &dir.join("compression.png"))
}

/// The compression rows (one partition, idempotent producers) of `kind`, by size then
/// codec.
fn codec_configs(kind: Kind) -> Vec<Config> {
    let mut v = Vec::new();
    for size in [100, 1024] {
        for codec in [Codec::None, Codec::Lz4, Codec::Zstd, Codec::Gzip] {
            v.push(Config {
                size,
                partitions: 1,
                codec,
                idempotence: kind == Kind::Produce,
            });
        }
    }
    v
}

/// `compression.png`: producer records/s, consumer records/s and the wire ratio (value
/// bytes ÷ Produce request bytes) per codec and client.
fn compression(r: &Results, path: &Path) -> Result<(), BoxError> {
    let root = BitMapBackend::new(path, (WIDTH, 1500)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let panels = root.split_evenly((3, 1));
    panel(
        r,
        &panels[0],
        Kind::Produce,
        &codec_configs(Kind::Produce),
        "Producer by codec (1 partition, idempotent): records/s (median; whiskers: min–max)",
        |s| s.rate,
        1.0,
    )?;
    panel(
        r,
        &panels[1],
        Kind::Consume,
        &codec_configs(Kind::Consume),
        "Consumer by codec (1 partition): records/s (median; whiskers: min–max)",
        |s| s.rate,
        1.0,
    )?;
    panel(
        r,
        &panels[2],
        Kind::Produce,
        &codec_configs(Kind::Produce),
        "Wire ratio by codec: value bytes ÷ Produce request bytes (higher is smaller on the wire)",
        |s| s.wire_ratio,
        1.0,
    )?;
    root.present().map_err(err)?;
    Ok(())
}

fn bars(
    r: &Results,
    path: &Path,
    title: &str,
    figure: fn(&Summary) -> Option<Stat>,
    scale: f64,
) -> Result<(), BoxError> {
    let root = BitMapBackend::new(path, (WIDTH, 1000)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let (top, bottom) = root.split_vertically(500);
    panel(
        r,
        &top,
        Kind::Produce,
        &r.configs(Kind::Produce),
        &format!("Producer: {title}"),
        figure,
        scale,
    )?;
    panel(
        r,
        &bottom,
        Kind::Consume,
        &r.configs(Kind::Consume),
        &format!("Consumer: {title}"),
        figure,
        scale,
    )?;
    root.present().map_err(err)?;
    Ok(())
}

fn panel(
    r: &Results,
    area: &DrawingArea<BitMapBackend<'_>, Shift>,
    kind: Kind,
    configs: &[Config],
    title: &str,
    figure: fn(&Summary) -> Option<Stat>,
    scale: f64,
) -> Result<(), BoxError> {
    let mut top: f64 = 0.0;
    for c in configs {
        for k in ClientKind::ALL {
            if let Some(s) = figure(&r.summary(kind, *c, k)) {
                top = top.max(s.max * scale);
            }
        }
    }
    let top = if top > 0.0 { top * 1.3 } else { 1.0 };
    let n = configs.len().max(1);
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(90)
        .build_cartesian_2d(0f64..n as f64, 0f64..top)
        .map_err(err)?;
    let labels: Vec<String> = configs.iter().map(|c| c.short()).collect();
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(n * 2 + 1)
        .x_label_formatter(&|x| {
            let i = x.floor() as usize;
            if (x - i as f64 - 0.5).abs() < 0.01 {
                labels.get(i).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        })
        .y_label_formatter(&|y| crate::markdown::si(*y))
        .label_style(("sans-serif", 15))
        .draw()
        .map_err(err)?;
    let width = 0.8 / ClientKind::ALL.len() as f64;
    for (ci, client) in ClientKind::ALL.iter().enumerate() {
        let col = color(*client);
        let mut drawn = false;
        for (i, c) in configs.iter().enumerate() {
            let Some(s) = figure(&r.summary(kind, *c, *client)) else {
                continue;
            };
            let x0 = i as f64 + 0.1 + ci as f64 * width;
            let x1 = x0 + width * 0.9;
            let xm = (x0 + x1) / 2.0;
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(x0, 0.0), (x1, s.median * scale)],
                    col.filled(),
                )))
                .map_err(err)?;
            chart
                .draw_series(std::iter::once(Text::new(
                    crate::markdown::si(s.median * scale),
                    (x0, s.max.max(s.median) * scale + top * 0.01),
                    ("sans-serif", 11)
                        .into_font()
                        .transform(FontTransform::Rotate270),
                )))
                .map_err(err)?;
            let whisker = [(xm, s.min * scale), (xm, s.max * scale)];
            let series = chart
                .draw_series(std::iter::once(PathElement::new(
                    whisker,
                    BLACK.stroke_width(2),
                )))
                .map_err(err)?;
            if !drawn {
                series.label(client.label()).legend(move |(x, y)| {
                    Rectangle::new([(x, y - 6), (x + 14, y + 6)], col.filled())
                });
                drawn = true;
            }
        }
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .label_font(("sans-serif", 16))
        .draw()
        .map_err(err)?;
    Ok(())
}

fn latency(r: &Results, path: &Path) -> Result<(), BoxError> {
    let root = BitMapBackend::new(path, (WIDTH, 600)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let (left, right) = root.split_horizontally(WIDTH / 2);
    latency_panel(
        r,
        &left,
        Kind::LatencyFixed,
        &format!(
            "End-to-end latency at {} records/s ({})",
            crate::markdown::si(r.latency_rate as f64),
            HEADLINE.short()
        ),
    )?;
    latency_panel(
        r,
        &right,
        Kind::LatencySequential,
        "One record at a time (EndToEndLatency method)",
    )?;
    root.present().map_err(err)?;
    Ok(())
}

fn latency_panel(
    r: &Results,
    area: &DrawingArea<BitMapBackend<'_>, Shift>,
    kind: Kind,
    title: &str,
) -> Result<(), BoxError> {
    let points = |s: &Summary| -> Vec<(f64, f64)> {
        [(0.0, s.p50), (1.0, s.p99), (2.0, s.p999)]
            .into_iter()
            .filter_map(|(x, v)| v.map(|v| (x, v.median / 1000.0)))
            .collect()
    };
    let mut top: f64 = 0.0;
    for c in ClientKind::ALL {
        for (_, y) in points(&r.summary(kind, HEADLINE, c)) {
            top = top.max(y);
        }
    }
    let top = if top > 0.0 { top * 2.0 } else { 10.0 };
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 20))
        .margin(14)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(-0.3f64..2.3f64, (0.5f64..top).log_scale())
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_labels(3)
        .x_label_formatter(&|x| match x.round() as i32 {
            0 => "p50".into(),
            1 => "p99".into(),
            2 => "p99.9".into(),
            _ => String::new(),
        })
        .y_desc("milliseconds, log scale (median of runs)")
        .y_label_formatter(&|y| format!("{y}"))
        .label_style(("sans-serif", 15))
        .draw()
        .map_err(err)?;
    for c in ClientKind::ALL {
        let pts = points(&r.summary(kind, HEADLINE, c));
        if pts.is_empty() {
            continue;
        }
        let col = color(c);
        chart
            .draw_series(LineSeries::new(pts.clone(), col.stroke_width(3)))
            .map_err(err)?
            .label(c.label())
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], col.stroke_width(3)));
        chart
            .draw_series(pts.iter().map(|p| Circle::new(*p, 5, col.filled())))
            .map_err(err)?;
        chart
            .draw_series(pts.iter().map(|(x, y)| {
                Text::new(
                    format!("{y:.2}"),
                    (*x + 0.04, *y),
                    ("sans-serif", 14).into_font().color(&col),
                )
            }))
            .map_err(err)?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .label_font(("sans-serif", 16))
        .draw()
        .map_err(err)?;
    Ok(())
}

/// One line of a [`partition_lines`] panel: its label, colour and (partitions, value)
/// points.
pub type Line = (String, RGBColor, Vec<(f64, f64)>);

/// One panel of [`partition_lines`]: title, y-axis description, lines.
pub type Panel = (String, String, Vec<Line>);

/// The colour of a `scale` client line: the report's client colours, and a lighter
/// orange for our consumer without fetch sessions.
pub fn scale_color(client: ClientKind, variant: bool) -> RGBColor {
    if variant {
        RGBColor(0xfd, 0xae, 0x6b)
    } else {
        color(client)
    }
}

/// `scale`'s chart: one panel per figure, each figure against the partition count
/// (both axes logarithmic), every client a line; panels two per row.
pub fn partition_lines(path: &Path, panels: &[Panel]) -> Result<(), BoxError> {
    let rows = panels.len().div_ceil(2).max(1);
    let root = BitMapBackend::new(path, (WIDTH, 420 * rows as u32)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let areas = root.split_evenly((rows, 2));
    for ((title, y_desc, lines), area) in panels.iter().zip(areas.iter()) {
        let (mut lo, mut hi) = (f64::INFINITY, 0f64);
        let mut x_hi = 1f64;
        for (_, _, pts) in lines {
            for (x, y) in pts {
                if *y > 0.0 && y.is_finite() {
                    lo = lo.min(*y);
                    hi = hi.max(*y);
                }
                x_hi = x_hi.max(*x);
            }
        }
        if !lo.is_finite() {
            continue;
        }
        let mut chart = ChartBuilder::on(area)
            .caption(title.as_str(), ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(80)
            .build_cartesian_2d(
                (0.8f64..x_hi * 1.3).log_scale(),
                (lo / 2.0..hi * 2.0).log_scale(),
            )
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("partitions (log scale)")
            .y_desc(y_desc.as_str())
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_label_formatter(&|y| {
                if *y >= 1e6 {
                    format!("{:.1}M", y / 1e6)
                } else if *y >= 1e3 {
                    format!("{:.0}k", y / 1e3)
                } else {
                    format!("{y:.2}")
                }
            })
            .label_style(("sans-serif", 13))
            .draw()
            .map_err(err)?;
        for (label, col, pts) in lines {
            let pts: Vec<(f64, f64)> = pts
                .iter()
                .copied()
                .filter(|(_, y)| *y > 0.0 && y.is_finite())
                .collect();
            if pts.is_empty() {
                continue;
            }
            let col = *col;
            chart
                .draw_series(LineSeries::new(pts.clone(), col.stroke_width(3)))
                .map_err(err)?
                .label(label.as_str())
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], col.stroke_width(3)));
            chart
                .draw_series(pts.iter().map(|p| Circle::new(*p, 4, col.filled())))
                .map_err(err)?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .label_font(("sans-serif", 13))
            .draw()
            .map_err(err)?;
    }
    root.present().map_err(err)?;
    Ok(())
}
