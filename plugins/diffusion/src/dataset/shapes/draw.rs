//! One example of `shapes`: its attributes, licence and position, and its pixels.
//!
//! An image is one filled shape on a dark background. The shape's bounding box is a square of
//! `extent` pixels (3/8 of the image side when small, 5/8 when large) placed where it fits;
//! within it a circle fills the inscribed disc, a square the whole box, a triangle points up
//! with its base on the box's bottom edge, and a cross is a plus sign of bars a third of the box
//! wide. Each pixel takes the colour in proportion to how much of it the shape covers
//! (measured on a 4×4 grid of points inside the pixel), so small shapes at 8×8 stay distinct:
//! a small circle is a square with soft corners. Every channel of every pixel then gets
//! uniform noise of ±0.04, and intensities in [0, 1] are mapped to [−1, 1].

use exp_plugin_api::sdk::Rng;

use super::licenses::draw_license;

pub const SHAPES: [&str; 4] = ["circle", "square", "triangle", "cross"];
pub const COLOURS: [&str; 4] = ["red", "green", "blue", "yellow"];
pub const SIZES: [&str; 2] = ["small", "large"];

/// The RGB intensities of each colour, in [0, 1].
pub const RGB: [[f32; 3]; 4] = [
    [1.0, 0.0, 0.0],
    [0.0, 1.0, 0.0],
    [0.0, 0.0, 1.0],
    [1.0, 1.0, 0.0],
];
/// The background's intensity in every channel, before noise.
const BACKGROUND: f32 = 0.1;
/// Half the width of the uniform noise added to every intensity.
const NOISE: f64 = 0.04;
/// Points per pixel side at which coverage is measured.
const SUBSAMPLES: usize = 4;
/// Half the width of a cross's bars, as a fraction of the box.
const BAR_HALF_WIDTH: f32 = 1.0 / 6.0;

/// What one example shows and where: ids index `SHAPES`, `COLOURS`, `SIZES` and
/// `LICENSE_MIX`; the box is `left..left + extent` by `top..top + extent`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Example {
    pub shape: usize,
    pub colour: usize,
    pub size: usize,
    pub license: usize,
    pub left: usize,
    pub top: usize,
    pub extent: usize,
}

/// The side of the bounding box of a shape of `size` in an image of `side` pixels.
pub fn extent(size: usize, side: usize) -> usize {
    let (eighths, least) = if size == 0 { (3, 3) } else { (5, 5) };
    ((side * eighths + 4) / 8).max(least)
}

/// Whether the point (u, v) of the unit box, v downwards, lies inside `shape`.
fn inside(shape: usize, u: f32, v: f32) -> bool {
    let (du, dv) = (u - 0.5, v - 0.5);
    match shape {
        0 => du * du + dv * dv <= 0.25,
        1 => true,
        2 => du.abs() <= v / 2.0,
        _ => du.abs() <= BAR_HALF_WIDTH || dv.abs() <= BAR_HALF_WIDTH,
    }
}

impl Example {
    /// Draws the licence, then the attributes, then the position.
    pub fn draw(rng: &mut Rng, side: usize) -> Example {
        let license = draw_license(rng);
        let shape = rng.below(SHAPES.len() as u64) as usize;
        let colour = rng.below(COLOURS.len() as u64) as usize;
        let size = rng.below(SIZES.len() as u64) as usize;
        let extent = extent(size, side);
        let room = (side - extent + 1) as u64;
        let left = rng.below(room) as usize;
        let top = rng.below(room) as usize;
        Example {
            shape,
            colour,
            size,
            license,
            left,
            top,
            extent,
        }
    }

    /// The caption as a target: shape, colour and size ids.
    pub fn target(&self) -> [i64; 3] {
        [self.shape as i64, self.colour as i64, self.size as i64]
    }

    /// The fraction of pixel (x, y) the shape covers.
    fn coverage(&self, x: usize, y: usize) -> f32 {
        let extent = self.extent as f32;
        let mut hits = 0;
        for sub_y in 0..SUBSAMPLES {
            for sub_x in 0..SUBSAMPLES {
                let offset = |sub: usize| (sub as f32 + 0.5) / SUBSAMPLES as f32;
                let u = (x as f32 - self.left as f32 + offset(sub_x)) / extent;
                let v = (y as f32 - self.top as f32 + offset(sub_y)) / extent;
                hits += usize::from(inside(self.shape, u, v));
            }
        }
        hits as f32 / (SUBSAMPLES * SUBSAMPLES) as f32
    }

    /// Writes the image, channels first (`[3, side, side]`), into `pixels`, drawing its noise
    /// from `rng`.
    pub fn paint(&self, rng: &mut Rng, side: usize, pixels: &mut [f32]) {
        let mut coverage = vec![0f32; side * side];
        for y in self.top..self.top + self.extent {
            for x in self.left..self.left + self.extent {
                coverage[y * side + x] = self.coverage(x, y);
            }
        }
        for (channel, plane) in pixels.chunks_exact_mut(side * side).enumerate() {
            let ink = RGB[self.colour][channel];
            for (pixel, covered) in plane.iter_mut().zip(&coverage) {
                let noise = (NOISE * (2.0 * rng.next_f64() - 1.0)) as f32;
                let intensity = BACKGROUND + covered * (ink - BACKGROUND) + noise;
                *pixel = (2.0 * intensity - 1.0).clamp(-1.0, 1.0);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use exp_plugin_api::sdk::Rng;

    use super::{extent, Example};

    #[test]
    fn boxes_fit_and_shapes_differ_even_when_small() {
        assert_eq!((extent(0, 8), extent(1, 8)), (3, 5));
        assert_eq!((extent(0, 16), extent(1, 16)), (6, 10));
        assert_eq!((extent(0, 64), extent(1, 64)), (24, 40));
        let mut rng = Rng::new(2);
        for _ in 0..200 {
            let example = Example::draw(&mut rng, 8);
            assert!(example.left + example.extent <= 8 && example.top + example.extent <= 8);
        }
        // The four small shapes at 8×8 differ by more than a pixel's worth of coverage.
        let coverage = |shape| {
            let example = Example {
                shape,
                colour: 0,
                size: 0,
                license: 0,
                left: 0,
                top: 0,
                extent: 3,
            };
            (0..9)
                .map(|pixel| example.coverage(pixel % 3, pixel / 3))
                .collect::<Vec<f32>>()
        };
        let maps: Vec<Vec<f32>> = (0..4).map(coverage).collect();
        let area = |map: &[f32]| map.iter().sum::<f32>();
        assert_eq!(
            maps.iter().map(|map| area(map)).collect::<Vec<_>>(),
            [7.0, 9.0, 4.5, 5.0]
        );
        for (index, map) in maps.iter().enumerate() {
            for other in &maps[index + 1..] {
                let distance: f32 = map.iter().zip(other).map(|(a, b)| (a - b).abs()).sum();
                assert!(distance > 1.0, "{maps:?}");
            }
        }
    }
}
