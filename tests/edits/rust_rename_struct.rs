kind=rename
//- text
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub x: f64,
    pub y: f64,
}

impl Point {
    pub fn new(x: f64, y: f64) -> Point {
        Point { x, y }
    }

    pub fn distance(self, other: Point) -> f64 {
        ((self.x - other.x).powi(2) + (self.y - other.y).powi(2)).sqrt()
    }
}

pub fn centroid(points: &[Point]) -> Option<Point> {
    let n = points.len() as f64;
    let (sx, sy) = points.iter().fold((0.0, 0.0), |(sx, sy), p| (sx + p.x, sy + p.y));
    (n > 0.0).then(|| Point::new(sx / n, sy / n))
}
//- edit
2: Point -> Vec2
//- expect
7: Point -> Vec2
8: Point -> Vec2
9: Point -> Vec2
12: Point -> Vec2
17: Point -> Vec2
17.2: Point -> Vec2
20: Point -> Vec2
