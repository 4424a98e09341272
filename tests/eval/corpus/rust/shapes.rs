//! Shapes built on the geometry module.

use crate::geometry::{BoundingBox, Point};

pub trait Shape {
    fn area(&self) -> f64;
    fn perimeter(&self) -> f64;
    fn bounds(&self) -> BoundingBox;
}

pub struct Circle {
    pub center: Point,
    pub radius: f64,
}

impl Shape for Circle {
    fn area(&self) -> f64 {
        std::f64::consts::PI * self.radius * self.radius
    }

    fn perimeter(&self) -> f64 {
        2.0 * std::f64::consts::PI * self.radius
    }

    fn bounds(&self) -> BoundingBox {
        let r = Point::new(self.radius, self.radius);
        BoundingBox { min: self.center - r, max: self.center + r }
    }
}

pub struct Polygon {
    pub vertices: Vec<Point>,
}

impl Polygon {
    pub fn new(vertices: Vec<Point>) -> Option<Polygon> {
        if vertices.len() < 3 {
            return None;
        }
        Some(Polygon { vertices })
    }

    fn edges(&self) -> impl Iterator<Item = (Point, Point)> + '_ {
        let n = self.vertices.len();
        (0..n).map(move |i| (self.vertices[i], self.vertices[(i + 1) % n]))
    }
}

impl Shape for Polygon {
    fn area(&self) -> f64 {
        let twice: f64 = self.edges().map(|(a, b)| a.x * b.y - b.x * a.y).sum();
        twice.abs() / 2.0
    }

    fn perimeter(&self) -> f64 {
        self.edges().map(|(a, b)| a.distance(b)).sum()
    }

    fn bounds(&self) -> BoundingBox {
        BoundingBox::around(&self.vertices).expect("a polygon has vertices")
    }
}

pub fn total_area(shapes: &[Box<dyn Shape>]) -> f64 {
    shapes.iter().map(|s| s.area()).sum()
}

pub fn largest(shapes: &[Box<dyn Shape>]) -> Option<&dyn Shape> {
    shapes.iter().map(|s| s.as_ref()).max_by(|a, b| a.area().total_cmp(&b.area()))
}
